using PioFvlm.Bench.Eval.Datasets;

namespace PioFvlm.Bench.Eval.Scoring;

/// <summary>
/// MME as LLaVA's convert_answer_to_mme.py + the MME toolkit's calculation.py. Annotations: the
/// <c>MME_Benchmark_release_version</c> folder: one folder per subtask holding, per image, <c>{image}.txt</c> with lines
/// <c>question\tYes|No</c> (under <c>questions_answers_YN/</c> when the subtask has an <c>images/</c> folder, else
/// beside the images). Answers are matched by (subtask = question_id before the first '/', image file = the last
/// segment's stem + ".txt", question = prompt without "Answer the question using a single word or phrase.", with
/// " Please answer yes or no." appended when missing, or its two-space variant). Per subtask: accuracy and accuracy+
/// (images with every question right), both ×100, score = acc + acc+; perception and cognition sum their subtask
/// scores; main = perception + cognition.
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
        var gold = ReadGroundTruth(inputs.Annotations);
        // subtask → image → per-question correctness
        var results = new Dictionary<string, Dictionary<string, List<bool>>>();
        foreach (var a in answers)
        {
            int slash = a.QuestionId.IndexOf('/');
            if (slash < 0) throw new EvalDataException($"MME question_id '{a.QuestionId}' is not 'subtask/.../image'");
            string subtask = a.QuestionId[..slash];
            string last = a.QuestionId[(a.QuestionId.LastIndexOf('/') + 1)..];
            string file = last.Split('.')[0] + ".txt";
            string question = a.Prompt.Replace("Answer the question using a single word or phrase.", "").Trim();
            if (!question.Contains("Please answer yes or no."))
            {
                question += " Please answer yes or no.";
                if (!gold.ContainsKey((subtask, file, question))) question = question.Replace(" Please answer yes or no.", "  Please answer yes or no.");
            }
            if (!gold.TryGetValue((subtask, file, question), out var gt))
                throw new EvalDataException($"{inputs.Annotations}: no ground truth for {subtask}/{file} question '{question}'");
            var byImage = results.TryGetValue(subtask, out var r) ? r : results[subtask] = new();
            (byImage.TryGetValue(file, out var l) ? l : byImage[file] = new()).Add(ParseYesNo(a.Text) == gt);
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

    static Dictionary<(string Subtask, string File, string Question), string> ReadGroundTruth(string root)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"MME benchmark folder not found: {root}");
        var gold = new Dictionary<(string, string, string), string>();
        foreach (var subtaskDir in Directory.GetDirectories(root))
        {
            string subtask = Path.GetFileName(subtaskDir);
            string qaDir = Directory.Exists(Path.Combine(subtaskDir, "images")) ? Path.Combine(subtaskDir, "questions_answers_YN") : subtaskDir;
            if (!Directory.Exists(qaDir)) throw new EvalDataException($"{subtaskDir}: has images/ but no questions_answers_YN/");
            foreach (var file in Directory.GetFiles(qaDir, "*.txt"))
            {
                int n = 0;
                foreach (var line in File.ReadLines(file))
                {
                    n++;
                    if (string.IsNullOrWhiteSpace(line)) continue;
                    var f = line.Trim().Split('\t');
                    if (f.Length != 2) throw EvalDataException.AtLine(file, n, "expected question<TAB>answer");
                    gold[(subtask, Path.GetFileName(file), f[0])] = f[1].ToLowerInvariant();
                }
            }
        }
        if (gold.Count == 0) throw new EvalDataException($"{root}: no MME question files (subtask/*.txt or subtask/questions_answers_YN/*.txt)");
        return gold;
    }
}
