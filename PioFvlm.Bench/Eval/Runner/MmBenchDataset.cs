using System.Text;
using PioFvlm.Bench.Eval.Datasets;

namespace PioFvlm.Bench.Eval.Runner;

/// <summary>
/// MMBench as the runner reads it: the TSV's base64 images are written once into <c>IMAGES/</c> under the output
/// folder (named by index), and the prompt is built as LLaVA's model_vqa_mmbench.py does: hint, question, one
/// "A. option" line per present option, then the single-letter instruction.
/// </summary>
public sealed class MmBenchDataset(string imageCache) : IEvalDataset
{
    public const string Instruction = "Answer with the option's letter from the given choices directly.";

    public IReadOnlyList<EvalSample> Load(string questionFile, string? imageFolder)
    {
        Directory.CreateDirectory(imageCache);
        var result = new List<EvalSample>();
        foreach (var s in MmBenchTsv.Read(questionFile))
        {
            string? imagePath = null;
            if (s.Extra.TryGetValue("image_base64", out var b64))
            {
                imagePath = Path.Combine(imageCache, $"{s.QuestionId}.img");
                if (!File.Exists(imagePath))
                {
                    byte[] bytes;
                    try { bytes = Convert.FromBase64String(b64); }
                    catch (FormatException e) { throw new EvalDataException($"{questionFile}: question {s.QuestionId}: image is not valid base64", e); }
                    File.WriteAllBytes(imagePath, bytes);
                }
            }
            var prompt = new StringBuilder();
            if (s.Extra.TryGetValue("hint", out var hint)) prompt.Append(hint).Append('\n');
            prompt.Append(s.Text);
            foreach (var letter in new[] { "A", "B", "C", "D" })
                if (s.Extra.TryGetValue(letter, out var option)) prompt.Append('\n').Append(letter).Append(". ").Append(option);
            prompt.Append('\n').Append(Instruction);
            var extra = s.Extra.Where(kv => kv.Key != "image_base64").ToDictionary(kv => kv.Key, kv => kv.Value);
            result.Add(new EvalSample(s.QuestionId, prompt.ToString(), imagePath, s.Category, extra));
        }
        return result;
    }
}
