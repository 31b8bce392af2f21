using PioFvlm.Core.Nn;

namespace PioFvlm.Core.Pruning.Efficiency;

/// <summary>
/// Floating-point operation counts for one prefill of a LLaMA/Mistral/Qwen2-style decoder, in two conventions:
/// <list type="bullet">
/// <item><b>Paper</b> (FastV/PDrop, what PIO-FVLM's README reports, spec §9/§10.2): per layer
/// f(n) = 4nd² + 2n²d + 2ndm with n = the <i>visual</i> tokens of that layer. It counts one multiply-add as one
/// operation, a 2-matrix FFN and square attention projections (so it ignores SwiGLU's third matrix and GQA) and
/// leaves text tokens out.</item>
/// <item><b>Exact</b> (our model): every token of the sequence, one multiply-add = 2 FLOPs, every matmul with its real
/// shape: q/o [d ↔ H·hd], k/v [d → kv·hd] (GQA), QKᵀ and PV over the <i>full</i> q×k score rectangle (dense SDPA
/// kernels compute the masked upper triangle too, so causal masking saves nothing we count), SwiGLU gate/up/down, and
/// lm_head for the last position only (generation needs no other logits). RMSNorm, RoPE, softmax, SiLU, biases
/// and residual adds are O(n·d) elementwise work and are not counted (under 0.1 % at 7B sizes).</item>
/// </list>
/// Counts are exact integers (checked long arithmetic).
/// </summary>
public static class FlopCount
{
    /// <summary>γ: backward costs this many forwards (input and weight-free backward of GEMMs ≈ 2×; the reference
    /// code's <c>backward_gamma</c> is 2 as well).</summary>
    public const int BackwardFactor = 2;

    /// <summary>Supervised positions of the PIO proxy loss (K_pos = 4, spec §2.2).</summary>
    public const int ProbePositions = 4;

    /// <summary>The paper's per-layer count f(n) = 4nd² + 2n²d + 2ndm (multiply-adds).</summary>
    public static long PaperLayer(long n, long hidden, long intermediate) =>
        checked(4 * n * hidden * hidden + 2 * n * n * hidden + 2 * n * hidden * intermediate);

    /// <summary>Σ_layers f(n_l) over the visual counts of each layer.</summary>
    public static long Paper(IEnumerable<long> visualPerLayer, DecoderDims dims) =>
        visualPerLayer.Aggregate(0L, (sum, n) => checked(sum + PaperLayer(n, dims.HiddenSize, dims.IntermediateSize)));

    /// <summary>
    /// Exact FLOPs of one decoder layer for <paramref name="queries"/> new positions attending to
    /// <paramref name="keys"/> positions (prefill: both = the sequence length; decode: 1 and the cache length + 1).
    /// </summary>
    public static long ExactLayer(DecoderDims dims, long queries, long keys)
    {
        long d = dims.HiddenSize, m = dims.IntermediateSize, hd = dims.HeadDim;
        long qWidth = (long)dims.NumHeads * hd, kvWidth = (long)dims.NumKvHeads * hd;
        return checked(
            2 * queries * d * qWidth            // q_proj
            + 2 * 2 * queries * d * kvWidth     // k_proj, v_proj
            + 2 * 2 * queries * keys * qWidth   // QKᵀ and PV, every head, full rectangle
            + 2 * queries * qWidth * d          // o_proj
            + 3 * 2 * queries * d * m);         // gate_proj, up_proj, down_proj
    }

    /// <summary>lm_head on <paramref name="positions"/> rows.</summary>
    public static long LmHead(DecoderDims dims, long positions) => checked(2 * positions * dims.HiddenSize * dims.VocabSize);

    /// <summary>Exact FLOPs of a prefill whose layers see <paramref name="sequencePerLayer"/> positions, plus lm_head
    /// for the last position.</summary>
    public static long ExactPrefill(IEnumerable<long> sequencePerLayer, DecoderDims dims) =>
        checked(sequencePerLayer.Aggregate(0L, (sum, n) => checked(sum + ExactLayer(dims, n, n))) + LmHead(dims, 1));

    /// <summary>
    /// The reference probe of one pruning event on <paramref name="sequence"/> positions (spec §2.5): one decoder
    /// layer forward on all positions and lm_head on all positions, then their backward: (1 + γ) × that forward.
    /// </summary>
    public static long FullProbe(DecoderDims dims, long sequence) =>
        checked((1 + BackwardFactor) * (ExactLayer(dims, sequence, sequence) + LmHead(dims, sequence)));

    /// <summary>
    /// The exactly-equivalent cheap probe (spec §2.5): k/v projections on all <paramref name="sequence"/> positions;
    /// q, attention over all keys, o_proj, MLP and lm_head only for the min(4, S) supervised positions;
    /// (1 + γ) × that forward.
    /// </summary>
    public static long CheapProbe(DecoderDims dims, long sequence)
    {
        long p = Math.Min(ProbePositions, sequence);
        long d = dims.HiddenSize, hd = dims.HeadDim;
        long kvWidth = (long)dims.NumKvHeads * hd;
        long kv = checked(2 * 2 * sequence * d * kvWidth);
        long rest = checked(ExactLayer(dims, p, sequence) - 2 * 2 * p * d * kvWidth + LmHead(dims, p));
        return checked((1 + BackwardFactor) * (kv + rest));
    }
}
