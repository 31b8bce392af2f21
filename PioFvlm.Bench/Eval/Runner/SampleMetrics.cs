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

    /// <summary>
    /// Per-layer visual counts come from the pruner's stage report (ScoreThenSelect, DART); a pruner without one is
    /// counted at its input count for every layer (an over-estimate of its FLOPs).
    /// </summary>
    public static SampleMetrics From(GenerationStats stats, PruningPlan plan, DecoderDims dims)
    {
        var perLayer = Enumerable.Repeat(stats.VisualTokensIn, dims.NumLayers).ToArray();
        IReadOnlyList<PruningStageReport>? reports = plan.Intra switch
        {
            ScoreThenSelectPruner p => p.LastReport,
            Core.Pruning.Dart.DartPruner d => d.LastReport,
            _ => null,
        };
        foreach (var r in (reports ?? []).OrderBy(r => r.AfterLayer))
            for (int l = r.AfterLayer; l < perLayer.Length; l++) perLayer[l] = r.VisualAfter;
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
