using System.Text.Json;
using System.Text.RegularExpressions;
using PioFvlm.Bench.Eval.Datasets;

namespace PioFvlm.Bench.Eval.Scoring;

/// <summary>
/// TextVQA / VQAv2 soft accuracy (percent). Annotations: the TextVQA json (<c>{"data": [{question_id, image_id,
/// question, answers: [..]}]}</c>) or the VQAv2 annotations json (<c>{"annotations": [{question_id, answers:
/// [{answer}]}]}</c>). An answer is matched by question_id; failing that, as LLaVA's eval_textvqa.py does, by
/// (image_id = the answer's question_id, the question extracted from its prompt, lowercased).
/// </summary>
public sealed class VqaScorer(string name) : IBenchmarkScorer
{
    public string Name => name;

    sealed record Entry(string QuestionId, string? ImageId, string? Question, List<string> Answers);

    public BenchmarkScore Score(IReadOnlyList<AnswerRecord> answers, ScoringInputs inputs)
    {
        var entries = ReadAnnotations(inputs.Annotations);
        var byId = new Dictionary<string, Entry>();
        var byImageQuestion = new Dictionary<(string, string), Entry>();
        foreach (var e in entries)
        {
            byId.TryAdd(e.QuestionId, e);
            if (e.ImageId != null && e.Question != null) byImageQuestion.TryAdd((e.ImageId, e.Question.ToLowerInvariant()), e);
        }
        double sum = 0;
        foreach (var a in answers)
        {
            if (!byId.TryGetValue(a.QuestionId, out var entry)
                && !byImageQuestion.TryGetValue((a.QuestionId, QuestionFromPrompt(a.Prompt)), out entry))
                throw new EvalDataException($"{inputs.Annotations}: no annotation for question_id '{a.QuestionId}' (nor for image_id '{a.QuestionId}' with the prompt's question)");
            sum += VqaSoftAccuracy.Score(a.Text, entry.Answers);
        }
        if (answers.Count == 0) throw new EvalDataException("no answers to score");
        double acc = 100 * sum / answers.Count;
        return new BenchmarkScore(Name, "accuracy", acc, new Dictionary<string, double> { ["accuracy"] = acc, ["count"] = answers.Count });
    }

    /// <summary>The question inside a LLaVA TextVQA prompt (the "OCR tokens: ... Question: q Short answer:" and "question\nReference OCR token: ...\nAnswer ..." forms), lowercased.</summary>
    public static string QuestionFromPrompt(string prompt)
    {
        if (prompt.StartsWith("OCR tokens: ", StringComparison.Ordinal)
            && Regex.Match(prompt, "Question: (.*?) Short answer:", RegexOptions.Singleline) is { Success: true } m)
            return m.Groups[1].Value.ToLowerInvariant();
        var lines = prompt.Split('\n');
        string q = prompt.Contains("Reference OCR token: ") && lines.Length == 3
            ? (prompt.StartsWith("Reference OCR token:", StringComparison.Ordinal) ? lines[1] : lines[0])
            : lines.Length == 2 ? lines[0] : prompt;
        return q.ToLowerInvariant();
    }

    static List<Entry> ReadAnnotations(string path)
    {
        using var doc = JsonFields.ParseFile(path);
        var root = doc.RootElement;
        var list = new List<Entry>();
        try
        {
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("data", out var data))
            {
                foreach (var d in data.EnumerateArray())
                    list.Add(new Entry(JsonFields.Required(d, "question_id"), JsonFields.Text(d, "image_id"), JsonFields.Text(d, "question"),
                        d.GetProperty("answers").EnumerateArray().Select(JsonFields.AnyAsText).ToList()));
            }
            else if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("annotations", out var anns))
            {
                foreach (var d in anns.EnumerateArray())
                    list.Add(new Entry(JsonFields.Required(d, "question_id"), JsonFields.Text(d, "image_id"), null,
                        d.GetProperty("answers").EnumerateArray().Select(x => JsonFields.Required(x, "answer")).ToList()));
            }
            else throw new FormatException("expected an object with a 'data' (TextVQA) or 'annotations' (VQAv2) list");
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or KeyNotFoundException)
        {
            throw new EvalDataException($"{path}: {e.Message}", e);
        }
        return list;
    }
}
