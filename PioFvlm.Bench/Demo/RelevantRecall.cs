using PioFvlm.Bench.Eval;
using PioFvlm.Bench.Eval.Runner;

namespace PioFvlm.Bench.Demo;

/// <summary>One method's relevant-token recall (percent), averaged over questions: after each pruning stage (label
/// "pre" for the pre-LLM reducer, "L1" for the stage after layer 1, ...), at the last decoder layer, and at the last
/// layer per question type.</summary>
public sealed record RecallSummary(IReadOnlyList<(string Stage, double Percent)> Stages, double LastLayer, IReadOnlyDictionary<string, double> LastLayerPerType);

/// <summary>
/// Relevant-token recall: the share of a question's ground-truth relevant visual tokens (<see cref="GroundTruth"/>) still
/// present after a pruning stage, from the kept-token trace the eval runner records with each answer
/// (<see cref="KeptTraceField"/>). Merged or pooled tokens (index −1) count as no original: a relevant patch averaged
/// into a mean is not present.
/// </summary>
public static class RelevantRecall
{
    /// <summary>|relevant ∩ kept| / |relevant|; NaN when nothing is relevant.</summary>
    public static double Of(IReadOnlyCollection<long> relevant, IEnumerable<long> kept)
    {
        if (relevant.Count == 0) return double.NaN;
        var present = kept.Where(k => k >= 0).ToHashSet();
        return (double)relevant.Count(present.Contains) / relevant.Count;
    }

    /// <summary>
    /// The summary over <paramref name="answers"/> (each matched to its question by id); null when any answer lacks a
    /// trace (answered before traces were recorded, e.g. a resumed older run) or a question lacks ground truth.
    /// A stage's average runs over the questions whose trace reaches it.
    /// </summary>
    public static RecallSummary? Summarize(IReadOnlyList<AnswerRecord> answers, IReadOnlyList<EvalSample> questions)
    {
        var byId = questions.ToDictionary(q => q.QuestionId);
        var stageSums = new List<(string Stage, double Sum, int Count)>();
        var last = new List<(string Type, double Recall)>();
        foreach (var a in answers)
        {
            if (!byId.TryGetValue(a.QuestionId, out var q) || GroundTruth.Relevant(q) is not { } relevant) return null;
            if (!a.Metadata.TryGetValue(KeptTraceField.Key, out var text)) return null;
            var trace = KeptTraceField.Parse(text, $"answer to {a.QuestionId}");
            foreach (var stage in trace.Stages)
            {
                int at = stageSums.FindIndex(s => s.Stage == stage.Label);
                if (at < 0) { stageSums.Add((stage.Label, 0, 0)); at = stageSums.Count - 1; }
                var (label, sum, count) = stageSums[at];
                stageSums[at] = (label, sum + Of(relevant, stage.Original), count + 1);
            }
            if (trace.AtLastLayer is { } kept) last.Add((q.Category ?? "", Of(relevant, kept)));
        }
        if (answers.Count == 0 || last.Count == 0) return null;
        return new RecallSummary(
            stageSums.Select(s => (s.Stage, 100 * s.Sum / s.Count)).ToList(),
            100 * last.Average(l => l.Recall),
            last.GroupBy(l => l.Type).ToDictionary(g => g.Key, g => 100 * g.Average(l => l.Recall)));
    }
}
