using System.Text.Json;
using PioFvlm.Bench.Eval.Datasets;

namespace PioFvlm.Bench.Eval.Scoring;

/// <summary>
/// GQA exact match (percent) as LLaVA's convert_gqa_for_eval.py + the official eval.py: prediction = answer text with
/// trailing '.' stripped, lowercased, compared with the gold answer. Annotations: <c>testdev_balanced_questions.json</c>
/// (an object keyed by question id, each with "answer").
/// </summary>
public sealed class GqaScorer : IBenchmarkScorer
{
    public string Name => "gqa";

    public static string Normalize(string text) => text.TrimEnd('.').ToLowerInvariant();

    public BenchmarkScore Score(IReadOnlyList<AnswerRecord> answers, ScoringInputs inputs)
    {
        using var doc = JsonFields.ParseFile(inputs.Annotations);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new EvalDataException($"{inputs.Annotations}: expected an object keyed by question id");
        if (answers.Count == 0) throw new EvalDataException("no answers to score");
        int correct = 0;
        foreach (var a in answers)
        {
            if (!doc.RootElement.TryGetProperty(a.QuestionId, out var q) || JsonFields.Text(q, "answer") is not { } gold)
                throw new EvalDataException($"{inputs.Annotations}: no question '{a.QuestionId}' with an answer");
            if (Normalize(a.Text) == gold) correct++;
        }
        double acc = 100.0 * correct / answers.Count;
        return new BenchmarkScore(Name, "accuracy", acc, new Dictionary<string, double> { ["accuracy"] = acc, ["count"] = answers.Count });
    }
}
