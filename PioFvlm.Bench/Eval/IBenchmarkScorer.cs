namespace PioFvlm.Bench.Eval;

/// <summary>The score of one answers file: the headline metric and every other metric by name.</summary>
public sealed record BenchmarkScore(string Benchmark, string MainMetric, double Main, IReadOnlyDictionary<string, double> Metrics);

/// <summary>Where a scorer finds its ground truth (the same files LLaVA's evaluation scripts take).</summary>
/// <param name="Annotations">Annotation file or folder (e.g. the POPE folder with coco_pope_*.json).</param>
/// <param name="Questions">The question file, when the scorer needs it (categories, options).</param>
public sealed record ScoringInputs(string Annotations, string? Questions);

/// <summary>Scores LLaVA-format answers for one benchmark, in-process.</summary>
public interface IBenchmarkScorer
{
    string Name { get; }
    BenchmarkScore Score(IReadOnlyList<AnswerRecord> answers, ScoringInputs inputs);
}
