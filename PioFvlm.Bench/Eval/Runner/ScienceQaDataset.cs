using System.Text.Json;
using PioFvlm.Bench.Eval.Datasets;

namespace PioFvlm.Bench.Eval.Runner;

/// <summary>
/// LLaVA's ScienceQA question file (llava_test_CQM-A.json): a JSON list of <c>{"id", "image"?, "conversations":
/// [{"from": "human", "value": "&lt;image&gt;\nContext: ...\nQuestion: ...\nOptions: (A) ..."}, ...]}</c>. The human turn,
/// without its image placeholder, is the question; text-only problems have no image.
/// </summary>
public sealed class ScienceQaDataset : IEvalDataset
{
    public IReadOnlyList<EvalSample> Load(string questionFile, string? imageFolder)
    {
        if (!File.Exists(questionFile)) throw new FileNotFoundException($"question file not found: {questionFile}", questionFile);
        imageFolder ??= Path.GetDirectoryName(Path.GetFullPath(questionFile))!;
        using var doc = JsonDocument.Parse(File.ReadAllText(questionFile));
        if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new EvalDataException($"{questionFile}: expected a JSON list of problems");
        var samples = new List<EvalSample>();
        int i = 0;
        foreach (var item in doc.RootElement.EnumerateArray())
        {
            i++;
            string where = $"{questionFile}: problem {i}";
            string id = item.TryGetProperty("id", out var idEl) ? idEl.ToString() : throw new EvalDataException($"{where}: no id");
            if (!item.TryGetProperty("conversations", out var conv) || conv.ValueKind != JsonValueKind.Array || conv.GetArrayLength() == 0)
                throw new EvalDataException($"{where} ({id}): no conversations");
            string text = conv[0].GetProperty("value").GetString() ?? "";
            text = text.Replace("<image>\n", "").Replace("<image>", "").Trim();
            string? image = item.TryGetProperty("image", out var imgEl) && imgEl.ValueKind == JsonValueKind.String ? imgEl.GetString() : null;
            string? path = image is null ? null : ImagePaths.Resolve(imageFolder, image);
            samples.Add(new EvalSample(id, text, path, null, new Dictionary<string, string>()));
        }
        return samples;
    }
}
