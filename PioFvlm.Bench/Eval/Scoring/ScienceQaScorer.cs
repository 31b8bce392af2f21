using System.Text.Json;
using PioFvlm.Bench.Eval.Datasets;

namespace PioFvlm.Bench.Eval.Scoring;

/// <summary>
/// ScienceQA as LLaVA's eval_science_qa.py (percent). Annotations: ScienceQA's <c>problems.json</c> (id → {choices,
/// answer index, split, ...}); every problem of the test split is scored, a missing answer counting as FAILED (wrong),
/// as the script does. A problem is in the image subset when its answer's prompt contains "&lt;image&gt;" (the
/// script's rule) or, when the question json (llava_test_CQM-A.json) is given, when its entry has an "image".
/// </summary>
public sealed class ScienceQaScorer : IBenchmarkScorer
{
    public string Name => "scienceqa";
    const string Options = "ABCDE";

    public BenchmarkScore Score(IReadOnlyList<AnswerRecord> answers, ScoringInputs inputs)
    {
        var byId = new Dictionary<string, AnswerRecord>();
        foreach (var a in answers) byId[a.QuestionId] = a;
        var withImage = inputs.Questions == null ? null : ImageQuestionIds(inputs.Questions);
        using var doc = JsonFields.ParseFile(inputs.Annotations);
        int total = 0, correct = 0, imgTotal = 0, imgCorrect = 0;
        try
        {
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (JsonFields.Text(p.Value, "split") != "test") continue;
                int choices = p.Value.GetProperty("choices").GetArrayLength();
                int gold = p.Value.GetProperty("answer").GetInt32();
                byId.TryGetValue(p.Name, out var a);
                char? letter = a == null ? null : OptionLetter.Parse(a.Text, Options);
                int pred = letter is { } l && Options.IndexOf(l) < choices ? Options.IndexOf(l) : -1;
                bool ok = pred == gold;
                bool isImage = withImage?.Contains(p.Name) ?? (a?.Prompt.Contains("<image>") ?? false);
                total++; if (ok) correct++;
                if (isImage) { imgTotal++; if (ok) imgCorrect++; }
            }
        }
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new EvalDataException($"{inputs.Annotations}: not a ScienceQA problems.json ({e.Message})", e);
        }
        if (total == 0) throw new EvalDataException($"{inputs.Annotations}: no problems with split 'test'");
        var metrics = new Dictionary<string, double>
        {
            ["accuracy"] = 100.0 * correct / total,
            ["img_accuracy"] = imgTotal == 0 ? 0 : 100.0 * imgCorrect / imgTotal,
            ["count"] = total,
            ["img_count"] = imgTotal,
            ["answered"] = answers.Count,
        };
        return new BenchmarkScore(Name, "img_accuracy", metrics["img_accuracy"], metrics);
    }

    static HashSet<string> ImageQuestionIds(string questions)
    {
        using var doc = JsonFields.ParseFile(questions);
        if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new EvalDataException($"{questions}: expected a json list of questions");
        return doc.RootElement.EnumerateArray()
            .Where(q => q.TryGetProperty("image", out var i) && i.ValueKind == JsonValueKind.String)
            .Select(q => JsonFields.Required(q, "id")).ToHashSet();
    }
}
