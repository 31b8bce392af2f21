using System.Globalization;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Efficiency;

namespace PioFvlm.Bench.Eval.Runner;

/// <summary>
/// The cost of one answer, kept in the answer's <c>metadata</c> (as invariant strings) so a resumed or merged file
/// still reports over every answer: average visual tokens per decoder layer, prefill and total ms, paper FLOPs, KV bytes.
/// </summary>
public sealed record SampleMetrics(double VisualTokens, double PrefillMs, double TotalMs, long PaperFlops, long KvBytes)
{
    public const string VisualKey = "visual_tokens", PrefillKey = "prefill_ms", TotalKey = "total_ms", FlopsKey = "paper_flops", KvKey = "kv_bytes";

    /// <summary>Per-layer visual counts as the prefill loop measured them (every method alike, recycled tokens included).</summary>
    public static SampleMetrics From(GenerationStats stats, PruningPlan plan, DecoderDims dims)
    {
        _ = plan;
        var perLayer = stats.VisualTokensPerLayer.Count == dims.NumLayers
            ? stats.VisualTokensPerLayer.ToArray()
            : Enumerable.Repeat(stats.VisualTokensIn, dims.NumLayers).ToArray();
        return new SampleMetrics(perLayer.Average(), stats.PrefillMs, stats.VisionMs + stats.PrefillMs + stats.DecodeMs,
                                 FlopCount.Paper(perLayer, dims), stats.KvCacheBytes);
    }

    public Dictionary<string, string> ToMetadata() => new()
    {
        [VisualKey] = VisualTokens.ToString("R", CultureInfo.InvariantCulture),
        [PrefillKey] = PrefillMs.ToString("R", CultureInfo.InvariantCulture),
        [TotalKey] = TotalMs.ToString("R", CultureInfo.InvariantCulture),
        [FlopsKey] = PaperFlops.ToString(CultureInfo.InvariantCulture),
        [KvKey] = KvBytes.ToString(CultureInfo.InvariantCulture),
    };

    public static SampleMetrics? FromMetadata(IReadOnlyDictionary<string, string> m)
    {
        static double D(IReadOnlyDictionary<string, string> m, string k) => double.Parse(m[k], CultureInfo.InvariantCulture);
        if (!m.ContainsKey(VisualKey)) return null;
        return new SampleMetrics(D(m, VisualKey), D(m, PrefillKey), D(m, TotalKey),
                                 long.Parse(m[FlopsKey], CultureInfo.InvariantCulture), long.Parse(m[KvKey], CultureInfo.InvariantCulture));
    }
}
