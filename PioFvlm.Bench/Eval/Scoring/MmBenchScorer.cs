using PioFvlm.Bench.Eval.Datasets;

namespace PioFvlm.Bench.Eval.Scoring;

/// <summary>
/// MMBench single-round accuracy (percent), overall and per category. Annotations: the MMBench TSV with answers (dev).
/// Parsing: <see cref="OptionLetter"/>, else an answer equal to one option's text (case-insensitive) picks that
/// option; anything else is wrong. (The official evaluator adds circular evaluation and a GPT matcher: not here.)
/// </summary>
public sealed class MmBenchScorer : IBenchmarkScorer
{
    public string Name => "mmbench";

    public static char? ParseChoice(string text, EvalSample sample)
    {
        string options = new(new[] { 'A', 'B', 'C', 'D' }.Where(o => sample.Extra.ContainsKey(o.ToString())).ToArray());
        if (OptionLetter.Parse(text.Trim(), options) is { } l && options.Contains(l)) return l;
        string t = text.Trim().TrimEnd('.');
        foreach (char o in options)
            if (string.Equals(sample.Extra[o.ToString()].Trim().TrimEnd('.'), t, StringComparison.OrdinalIgnoreCase)) return o;
        return null;
    }

    public BenchmarkScore Score(IReadOnlyList<AnswerRecord> answers, ScoringInputs inputs)
    {
        var samples = MmBenchTsv.Read(inputs.Annotations).ToDictionary(s => s.QuestionId);
        if (answers.Count == 0) throw new EvalDataException("no answers to score");
        var perCategory = new Dictionary<string, (int Correct, int Total)>();
        int correct = 0;
        foreach (var a in answers)
        {
            if (!samples.TryGetValue(a.QuestionId, out var s)) throw new EvalDataException($"{inputs.Annotations}: no row with index '{a.QuestionId}'");
            if (!s.Extra.TryGetValue("answer", out var gold)) throw new EvalDataException($"{inputs.Annotations}: row '{a.QuestionId}' has no answer");
            bool ok = ParseChoice(a.Text, s)?.ToString() == gold.Trim();
            if (ok) correct++;
            string cat = s.Category ?? "";
            var (c, t) = perCategory.GetValueOrDefault(cat);
            perCategory[cat] = (c + (ok ? 1 : 0), t + 1);
        }
        var metrics = new Dictionary<string, double> { ["accuracy"] = 100.0 * correct / answers.Count, ["count"] = answers.Count };
        foreach (var (cat, (c, t)) in perCategory) metrics[$"{cat}/accuracy"] = 100.0 * c / t;
        return new BenchmarkScore(Name, "accuracy", metrics["accuracy"], metrics);
    }
}
