using PioFvlm.Bench.Eval.Datasets;

namespace PioFvlm.Bench.Eval.Scoring;

/// <summary>
/// MME as LLaVA's convert_answer_to_mme.py + the MME toolkit's calculation.py. Annotations: the toolkit's ground-truth
/// folder (one <c>{subtask}.txt</c> per subtask, lines <c>image\tquestion\tyes|no</c>). Answers are matched by
/// (subtask = question_id before the first '/', image = question_id after the last '/', question = prompt).
/// Per subtask: accuracy and accuracy+ (images with every question right), both ×100, score = acc + acc+;
/// perception and cognition are sums of their subtask scores; main = perception + cognition.
/// </summary>
public sealed class MmeScorer : IBenchmarkScorer
{
    public string Name => "mme";

    public static readonly string[] Perception =
        ["existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark", "artwork", "OCR"];
    public static readonly string[] Cognition =
        ["commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning"];

    /// <summary>calculation.py's rule on the lowercased text: exactly yes/no, else "yes" or "no" within the first 4 characters, else other.</summary>
    public static string ParseYesNo(string text)
    {
        string s = text.ToLowerInvariant();
        if (s is "yes" or "no") return s;
        string head = s.Length > 4 ? s[..4] : s;
        return head.Contains("yes") ? "yes" : head.Contains("no") ? "no" : "other";
    }

    public BenchmarkScore Score(IReadOnlyList<AnswerRecord> answers, ScoringInputs inputs)
    {
        if (!Directory.Exists(inputs.Annotations)) throw new DirectoryNotFoundException($"MME ground-truth folder not found: {inputs.Annotations}");
        var gold = new Dictionary<(string Subtask, string Image, string Question), string>();
        foreach (var file in Directory.GetFiles(inputs.Annotations, "*.txt"))
        {
            string subtask = Path.GetFileNameWithoutExtension(file);
            int n = 0;
            foreach (var line in File.ReadLines(file))
            {
                n++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                var f = line.Split('\t');
                if (f.Length < 3) throw EvalDataException.AtLine(file, n, "expected image<TAB>question<TAB>answer");
                gold[(subtask, f[0], f[1].Trim())] = f[2].Trim().ToLowerInvariant();
            }
        }
        // subtask → image → per-question correctness
        var results = new Dictionary<string, Dictionary<string, List<bool>>>();
        foreach (var a in answers)
        {
            int slash = a.QuestionId.IndexOf('/');
            if (slash < 0) throw new EvalDataException($"MME question_id '{a.QuestionId}' is not 'subtask/.../image'");
            string subtask = a.QuestionId[..slash];
            string image = a.QuestionId[(a.QuestionId.LastIndexOf('/') + 1)..];
            if (!gold.TryGetValue((subtask, image, a.Prompt.Trim()), out var gt))
                throw new EvalDataException($"{inputs.Annotations}: no ground truth for {subtask}/{image} question '{a.Prompt.Trim()}'");
            var byImage = results.TryGetValue(subtask, out var r) ? r : results[subtask] = new();
            (byImage.TryGetValue(image, out var l) ? l : byImage[image] = new()).Add(ParseYesNo(a.Text) == gt);
        }
        var metrics = new Dictionary<string, double>();
        double perception = 0, cognition = 0;
        foreach (var (subtask, byImage) in results.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            double acc = 100.0 * byImage.Values.Sum(l => l.Count(c => c)) / byImage.Values.Sum(l => l.Count);
            double accPlus = 100.0 * byImage.Values.Count(l => l.All(c => c)) / byImage.Count;
            metrics[$"{subtask}/acc"] = acc;
            metrics[$"{subtask}/acc_plus"] = accPlus;
            metrics[$"{subtask}/score"] = acc + accPlus;
            if (Perception.Contains(subtask)) perception += acc + accPlus;
            else if (Cognition.Contains(subtask)) cognition += acc + accPlus;
        }
        metrics["perception"] = perception;
        metrics["cognition"] = cognition;
        metrics["total"] = perception + cognition;
        return new BenchmarkScore(Name, "total", perception + cognition, metrics);
    }
}
