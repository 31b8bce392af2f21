using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.SparseVlm;

/// <summary>
/// A few query rows of one decoder layer's causal attention probabilities, from the layer's own weights and its
/// input, without the full L×L map (spec baselines §2.2): input_layernorm → q (rows only) and k (all) projections →
/// RoPE at the given positions → softmax over every key the row may see (causal by sequence index).
/// </summary>
public static class RaterAttention
{
    /// <summary>
    /// Probabilities [heads, rows, S] of layer <paramref name="layerIndex"/> for query rows <paramref name="rows"/>
    /// (sequence indices), given its un-normed input <paramref name="hidden"/> [1, S, H] and position ids [R, S].
    /// Float32 (float64 for a float64 model); masked keys are exactly 0. A new tensor in the caller's scope.
    /// </summary>
    public static Tensor Probabilities(IDecoderStack decoder, int layerIndex, Tensor hidden, Tensor positionIds, long[] rows)
    {
        if (hidden.dim() != 3 || hidden.shape[0] != 1)
            throw new ArgumentException($"RaterAttention: hidden must be [1, S, H], got [{string.Join(", ", hidden.shape)}]");
        long s = hidden.shape[1];
        foreach (long r in rows)
            if (r < 0 || r >= s) throw new ArgumentOutOfRangeException(nameof(rows), r, $"RaterAttention: query row {r} is outside the {s}-token sequence");
        var layer = decoder.Layer(layerIndex);
        var attention = layer.SelfAttention;
        long heads = attention.NumHeads, kvHeads = attention.NumKvHeads, d = attention.HeadDim, n = rows.Length;
        using var scope = NewDisposeScope();
        var x = layer.InputLayernorm.forward(hidden);
        var index = tensor(rows, ScalarType.Int64, hidden.device);
        var rope = decoder.Rope(positionIds, x.dtype);
        var rowRope = new RopeTables(rope.Cos.index_select(0, index), rope.Sin.index_select(0, index));
        var q = attention.QProj.forward(x.index_select(1, index)).view(1, n, heads, d).transpose(1, 2);
        var k = attention.KProj.forward(x).view(1, s, kvHeads, d).transpose(1, 2);
        var type = x.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        q = RotaryEmbedding.Apply(q, rowRope).to(type);
        k = RotaryEmbedding.Apply(k, rope).to(type);
        if (kvHeads != heads) k = k.repeat_interleave(heads / kvHeads, dim: 1);
        var logits = q.matmul(k.transpose(-1, -2))[0] / Math.Sqrt(d);                        // [heads, n, S]
        var future = arange(s, dtype: ScalarType.Int64, device: hidden.device).unsqueeze(0) > index.unsqueeze(1);   // [n, S]
        return logits.masked_fill(future, double.NegativeInfinity).softmax(-1).MoveToOuterDisposeScope();
    }

    /// <summary>SparseVLM's visual scores (spec §5.4): the probabilities averaged over heads and rater rows, at the
    /// visual key positions <paramref name="visualPositions"/>. [V] in the caller's scope.</summary>
    public static Tensor VisualScores(IDecoderStack decoder, int layerIndex, Tensor hidden, Tensor positionIds, long[] raterRows, long[] visualPositions)
    {
        using var scope = NewDisposeScope();
        var p = Probabilities(decoder, layerIndex, hidden, positionIds, raterRows);
        var index = tensor(visualPositions, ScalarType.Int64, p.device);
        return p.mean([0L, 1L]).index_select(0, index).MoveToOuterDisposeScope();
    }
}
