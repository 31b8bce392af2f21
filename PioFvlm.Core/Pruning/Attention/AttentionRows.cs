using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Attention;

/// <summary>
/// A few query rows of one decoder layer's attention probabilities, computed beside the layer (spec baselines §2.2):
/// <c>input_layernorm → q (needed rows only) / k (all positions) → RoPE at the given position ids →
/// softmax(q·Kᵀ/√d + causal mask)</c> in float32 over ALL keys. The layer itself keeps fused SDPA; nothing here
/// touches a KV cache. Under GQA query head h reads kv head ⌊h / (H / H_kv)⌋ (the kv heads are not copied).
/// </summary>
public static class AttentionRows
{
    /// <summary>
    /// Probabilities [H, R, S] (float32; computed in float64 for a float64 model) of layer <paramref name="layer"/> for the query positions
    /// <paramref name="rows"/> (sequence indices, any order), from that layer's input <paramref name="hidden"/> [1, S, hidden]
    /// (the un-normed residual stream entering it) at <paramref name="positionIds"/> [P, S]. Query i sees keys 0..rows[i].
    /// </summary>
    /// <param name="keepComputePrecision">return float64 for a float64 model instead of float32 (exact oracles).</param>
    public static Tensor PerHead(IDecoderStack decoder, int layer, Tensor hidden, Tensor positionIds, IReadOnlyList<long> rows,
                                 bool keepComputePrecision = false)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        if (layer < 0 || layer >= decoder.LayerCount)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"AttentionRows: layer {layer} is outside 0..{decoder.LayerCount - 1}");
        if (hidden.dim() != 3 || hidden.shape[0] != 1)
            throw new ArgumentException($"AttentionRows: hidden must be [1, S, hidden], got [{string.Join(", ", hidden.shape)}]");
        long s = hidden.shape[1];
        if (positionIds.dim() != 2 || positionIds.shape[1] != s)
            throw new ArgumentException($"AttentionRows: position ids [{string.Join(", ", positionIds.shape)}] do not cover the {s} positions of hidden");
        if (rows.Count == 0) throw new ArgumentException("AttentionRows: no query rows given");
        foreach (long r in rows)
            if (r < 0 || r >= s) throw new ArgumentOutOfRangeException(nameof(rows), r, $"AttentionRows: query row {r} is outside 0..{s - 1}");

        using var scope = NewDisposeScope();
        var block = decoder.Layer(layer);
        var attention = block.SelfAttention;
        long heads = attention.NumHeads, kvHeads = attention.NumKvHeads, d = attention.HeadDim, groups = heads / kvHeads, n = rows.Count;
        var rowIndex = tensor(rows.ToArray(), ScalarType.Int64, hidden.device);

        var x = block.InputLayernorm.forward(hidden);                                             // [1, S, hidden]
        var rope = decoder.Rope(positionIds, x.dtype);
        var rowRope = new RopeTables(rope.Cos.index_select(0, rowIndex), rope.Sin.index_select(0, rowIndex));
        var q = attention.QProj.forward(x.index_select(1, rowIndex)).view(1, n, heads, d).transpose(1, 2);   // [1, H, R, D]
        var k = attention.KProj.forward(x).view(1, s, kvHeads, d).transpose(1, 2);                            // [1, Hkv, S, D]
        var compute = x.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;   // fp32 at least, as the references
        q = RotaryEmbedding.Apply(q, rowRope).to(compute)[0];
        k = RotaryEmbedding.Apply(k, rope).to(compute)[0];

        // Heads h = g·groups + i share kv head g: fold the group into the query axis instead of repeating K.
        var grouped = q.reshape(kvHeads, groups * n, d);
        var scores = matmul(grouped, k.transpose(1, 2)).reshape(heads, n, s) * (1.0 / Math.Sqrt(d));
        var keys = arange(s, dtype: ScalarType.Int64, device: hidden.device).unsqueeze(0);
        var future = keys > rowIndex.unsqueeze(1);                                                // [R, S] true where masked
        var probs = scores.masked_fill(future, double.NegativeInfinity).softmax(-1).to(keepComputePrecision ? compute : ScalarType.Float32);
        return probs.MoveToOuterDisposeScope();
    }

    /// <summary>The head mean of <see cref="PerHead"/>: [R, S] float32.</summary>
    public static Tensor HeadMean(IDecoderStack decoder, int layer, Tensor hidden, Tensor positionIds, IReadOnlyList<long> rows)
    {
        using var scope = NewDisposeScope();
        return PerHead(decoder, layer, hidden, positionIds, rows).mean([0]).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// What the last position of <paramref name="state"/> (the last prompt token) pays to each visual token at layer
    /// <paramref name="layer"/>, head-averaged, with <paramref name="state"/>'s hidden as that layer's input: [V] float32 in
    /// visual-pool order (FastV, PDrop).
    /// </summary>
    public static Tensor LastTokenToVisual(IDecoderStack decoder, int layer, PrefillState state)
    {
        using var scope = NewDisposeScope();
        var row = HeadMean(decoder, layer, state.Hidden, state.PositionIds, [state.Length - 1])[0];
        var visual = tensor(VisualTokens.Positions(state), ScalarType.Int64, row.device);
        return row.index_select(0, visual).MoveToOuterDisposeScope();
    }
}
