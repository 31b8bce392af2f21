using PioFvlm.Bench.Eval.Datasets;
using PioFvlm.Bench.Eval.Runner;

namespace PioFvlm.Bench.Eval.Scoring;

/// <summary>
/// The synthetic shapes benchmark (<c>pio-fvlm demo</c>): accuracy (percent) overall and per question type. The ground
/// truth is the question file itself (its <c>answer</c> and <c>category</c> fields), given as the annotations. Yes/no
/// answers match on their first word, others on the trimmed, case-folded text without a final period.
/// </summary>
public sealed class ShapesScorer : IBenchmarkScorer
{
    public string Name => "shapes";

    public BenchmarkScore Score(IReadOnlyList<AnswerRecord> answers, ScoringInputs inputs)
    {
        if (answers.Count == 0) throw new EvalDataException("no answers to score");
        var questions = LlavaQuestionFile.Read(inputs.Annotations, imageFolder: null).Samples.ToDictionary(q => q.QuestionId);
        var perType = new SortedDictionary<string, (int Correct, int Total)>(StringComparer.Ordinal);
        int correct = 0;
        foreach (var a in answers)
        {
            if (!questions.TryGetValue(a.QuestionId, out var q) || SimpleMatchScorer.Truth(q) is not string truth)
                throw new EvalDataException($"{inputs.Annotations}: no question '{a.QuestionId}' with an answer");
            bool ok = SimpleMatchScorer.Matches(a.Text, truth);
            if (ok) correct++;
            string type = q.Category ?? "";
            var (c, t) = perType.GetValueOrDefault(type);
            perType[type] = (c + (ok ? 1 : 0), t + 1);
        }
        double accuracy = 100.0 * correct / answers.Count;
        var metrics = new Dictionary<string, double> { ["accuracy"] = accuracy, ["count"] = answers.Count };
        foreach (var (type, (c, t)) in perType)
        {
            metrics[$"{type}/accuracy"] = 100.0 * c / t;
            metrics[$"{type}/count"] = t;
        }
        return new BenchmarkScore(Name, "accuracy", accuracy, metrics);
    }
}
