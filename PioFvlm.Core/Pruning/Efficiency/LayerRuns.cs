namespace PioFvlm.Core.Pruning.Efficiency;

/// <summary>A per-layer count list compressed to runs of equal values, e.g. "1×576, 9×218, 5×128, 17×54".</summary>
public static class LayerRuns
{
    /// <summary>Consecutive layers with the same count, in layer order.</summary>
    public static IReadOnlyList<(int Layers, long Count)> Of(IReadOnlyList<long> perLayer)
    {
        var runs = new List<(int Layers, long Count)>();
        foreach (var n in perLayer)
        {
            if (runs.Count > 0 && runs[^1].Count == n) runs[^1] = (runs[^1].Layers + 1, n);
            else runs.Add((1, n));
        }
        return runs;
    }

    /// <summary>The runs as "layers×count" joined by ", " (the notation of the spec's §5.2 table).</summary>
    public static string Format(IReadOnlyList<long> perLayer) => string.Join(", ", Of(perLayer).Select(r => $"{r.Layers}×{r.Count}"));
}
