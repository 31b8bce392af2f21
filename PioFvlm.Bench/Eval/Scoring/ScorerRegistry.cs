namespace PioFvlm.Bench.Eval.Scoring;

/// <summary>Benchmark scorers by name.</summary>
public static class ScorerRegistry
{
    static readonly Dictionary<string, Func<IBenchmarkScorer>> Factories = new(StringComparer.OrdinalIgnoreCase)
    {
        ["pope"] = () => new PopeScorer(),
        ["textvqa"] = () => new VqaScorer("textvqa"),
        ["vqav2"] = () => new VqaScorer("vqav2"),
        ["gqa"] = () => new GqaScorer(),
        ["mme"] = () => new MmeScorer(),
        ["scienceqa"] = () => new ScienceQaScorer(),
        ["mmbench"] = () => new MmBenchScorer(),
        ["shapes"] = () => new ShapesScorer(),
    };

    public static IReadOnlyCollection<string> Names => Factories.Keys;

    public static IBenchmarkScorer Create(string name) =>
        Factories.TryGetValue(name, out var f) ? f()
            : throw new ArgumentException($"unknown benchmark '{name}' (known: {string.Join(", ", Names)})");
}
