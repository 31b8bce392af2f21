using System.Text.Json.Nodes;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Efficiency;

/// <summary>
/// What one prefill costs, theoretical and measured: per-layer token counts, FLOPs in the paper's convention and our
/// exact one (<see cref="FlopCount"/>), the pruning probe's FLOPs kept apart (as the reference code keeps
/// <c>extra_*_flops_est</c> apart from <c>flops_actual</c>), KV cache bytes, and wall-clock timings when a run gave
/// them. Vision-encoder FLOPs are not counted: the paper's table leaves them out and pre-LLM pruning does not change
/// them.
/// </summary>
public sealed record EfficiencyReport
{
    public required TokenSchedule Tokens { get; init; }

    /// <summary>Σ_layers f(n_visual) (multiply-adds, visual tokens only): the number the paper's table reports.</summary>
    public required long PaperFlops { get; init; }

    /// <summary>Exact FLOPs over all tokens (text included) plus lm_head on the last position; probe excluded.</summary>
    public required long ExactFlops { get; init; }

    /// <summary>Reference probe (layer + lm_head on all positions, forward and backward) summed over prune events.</summary>
    public required long ProbeFlopsFull { get; init; }

    /// <summary>Cheap equivalent probe (k/v on all positions, the rest on 4) summed over prune events.</summary>
    public required long ProbeFlopsCheap { get; init; }

    /// <summary>Σ_events f(visual before), the reference code's <c>extra_fwd_flops_est</c> in the paper convention (one
    /// probe forward per event; spec §10.2 adds it to <see cref="PaperFlops"/> to approach the README's 0.45 T).</summary>
    public required long PaperProbeForwardFlops { get; init; }

    public required ScalarType KvDType { get; init; }

    /// <summary>Σ_layers 2·kv_heads·head_dim·len_l·bytes after the prefill.</summary>
    public required long KvBytes { get; init; }

    /// <summary><see cref="KvCache.BytesInUse"/> right after the prefill, when a cache or run statistics were given.</summary>
    public long? KvBytesMeasured { get; init; }

    public double? VisionMs { get; init; }
    /// <summary>Decoder layers over the prompt, pruning included.</summary>
    public double? PrefillMs { get; init; }
    /// <summary>Pruning work alone (part of <see cref="PrefillMs"/>).</summary>
    public double? PruningMs { get; init; }
    public double? DecodeMs { get; init; }
    public int? TokensGenerated { get; init; }

    public double AverageVisualTokens => Tokens.AverageVisualTokens;

    /// <summary>Vision + prefill + decode when all three were measured.</summary>
    public double? TotalMs => VisionMs + PrefillMs + DecodeMs;

    /// <summary>The theoretical report of a schedule (no timings, nothing measured).</summary>
    public static EfficiencyReport Estimate(TokenSchedule tokens, DecoderDims dims, ScalarType kvDType)
    {
        if (tokens.Layers != dims.NumLayers)
            throw new ArgumentException($"the token schedule has {tokens.Layers} layers but the decoder {dims.NumLayers}");
        var events = tokens.Events;
        return new EfficiencyReport
        {
            Tokens = tokens,
            PaperFlops = FlopCount.Paper(tokens.VisualPerLayer, dims),
            ExactFlops = FlopCount.ExactPrefill(tokens.SequencePerLayer, dims),
            ProbeFlopsFull = events.Aggregate(0L, (sum, e) => checked(sum + FlopCount.FullProbe(dims, e.SequenceBefore))),
            ProbeFlopsCheap = events.Aggregate(0L, (sum, e) => checked(sum + FlopCount.CheapProbe(dims, e.SequenceBefore))),
            PaperProbeForwardFlops = events.Aggregate(0L, (sum, e) => checked(sum + FlopCount.PaperLayer(e.VisualBefore, dims.HiddenSize, dims.IntermediateSize))),
            KvDType = kvDType,
            KvBytes = KvCacheSize.Bytes(dims, tokens.SequencePerLayer, kvDType),
        };
    }

    /// <summary>
    /// The report of a prefill that ran: token counts from <see cref="PrefillResult.TokensPerLayer"/> and
    /// <see cref="PrefillResult.VisualTokensPerLayer"/>; measured KV bytes from <paramref name="cache"/> (call before
    /// decoding, which appends positions) or else from <paramref name="stats"/>; timings from <paramref name="stats"/>
    /// when given, else the prefill's own. The KV dtype is the cache's, else <paramref name="kvDType"/>.
    /// </summary>
    public static EfficiencyReport From(PrefillResult prefill, DecoderDims dims, KvCache? cache = null,
                                        GenerationStats? stats = null, ScalarType? kvDType = null)
    {
        var dtype = cache?.DType ?? kvDType ?? throw new ArgumentException(
            "EfficiencyReport.From needs the KV dtype: pass the cache or kvDType");
        var tokens = new TokenSchedule(prefill.VisualTokensPerLayer, prefill.TokensPerLayer);
        return Estimate(tokens, dims, dtype) with
        {
            KvBytesMeasured = cache?.BytesInUse ?? (stats is { KvCacheBytes: > 0 } ? stats.KvCacheBytes : null),
            VisionMs = stats?.VisionMs,
            PrefillMs = stats?.PrefillMs ?? prefill.PrefillMs,
            PruningMs = stats?.PruningMs ?? prefill.PruningMs,
            DecodeMs = stats?.DecodeMs,
            TokensGenerated = stats?.TokensGenerated,
        };
    }

    /// <summary>How much this run saves against an unpruned <paramref name="baseline"/> (factors are baseline / this).</summary>
    public EfficiencyComparison CompareTo(EfficiencyReport baseline) => new(
        VisualTokenRetention: baseline.AverageVisualTokens > 0 ? AverageVisualTokens / baseline.AverageVisualTokens : double.NaN,
        PaperFlopsReduction: Factor(baseline.PaperFlops, PaperFlops),
        ExactFlopsReduction: Factor(baseline.ExactFlops, ExactFlops),
        ExactFlopsWithProbeReduction: Factor(baseline.ExactFlops + baseline.ProbeFlopsCheap, ExactFlops + ProbeFlopsCheap),
        KvReduction: Factor(baseline.KvBytes, KvBytes),
        PrefillSpeedup: baseline.PrefillMs / PrefillMs,
        TotalSpeedup: baseline.TotalMs / TotalMs);

    static double Factor(long baseline, long value) => value > 0 ? (double)baseline / value : double.PositiveInfinity;

    /// <summary>All fields as one JSON object (snake_case; absent measurements are null).</summary>
    public JsonObject ToJson() => new()
    {
        ["layers"] = Tokens.Layers,
        ["visual_per_layer"] = new JsonArray(Tokens.VisualPerLayer.Select(n => (JsonNode)n).ToArray()),
        ["sequence_per_layer"] = new JsonArray(Tokens.SequencePerLayer.Select(n => (JsonNode)n).ToArray()),
        ["visual_runs"] = LayerRuns.Format(Tokens.VisualPerLayer),
        ["average_visual_tokens"] = AverageVisualTokens,
        ["average_sequence_length"] = Tokens.AverageSequenceLength,
        ["prune_events"] = new JsonArray(Tokens.Events.Select(e => (JsonNode)new JsonObject
        {
            ["after_layer"] = e.AfterLayer,
            ["visual_before"] = e.VisualBefore,
            ["visual_after"] = e.VisualAfter,
            ["sequence_before"] = e.SequenceBefore,
            ["sequence_after"] = e.SequenceAfter,
        }).ToArray()),
        ["flops_paper"] = PaperFlops,
        ["flops_exact"] = ExactFlops,
        ["probe_flops_full"] = ProbeFlopsFull,
        ["probe_flops_cheap"] = ProbeFlopsCheap,
        ["paper_probe_forward_flops"] = PaperProbeForwardFlops,
        ["kv_dtype"] = KvDType.ToString(),
        ["kv_bytes"] = KvBytes,
        ["kv_bytes_measured"] = KvBytesMeasured,
        ["vision_ms"] = VisionMs,
        ["prefill_ms"] = PrefillMs,
        ["pruning_ms"] = PruningMs,
        ["decode_ms"] = DecodeMs,
        ["tokens_generated"] = TokensGenerated,
    };
}

/// <summary>
/// A pruned run against its unpruned baseline. Reductions and speedups are baseline / pruned (the paper's "6.22×");
/// retention is pruned / baseline average visual tokens. Speedups are null unless both runs were timed.
/// </summary>
public sealed record EfficiencyComparison(
    double VisualTokenRetention,
    double PaperFlopsReduction,
    double ExactFlopsReduction,
    double ExactFlopsWithProbeReduction,
    double KvReduction,
    double? PrefillSpeedup,
    double? TotalSpeedup);
