using PioFvlm.Core.Nn;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Saliency;

/// <summary>
/// The probe layer evaluated only where the loss needs it (spec pio-fvlm.md §2.5): K for every position (so the
/// gradient reaches every position through the keys), and Q, the attention rows, o_proj, the MLP, the final norm and
/// the head only for the window rows. Values: when folded (<see cref="ProbeImplementation.Cheap"/>)
/// V is never formed for the S positions: each head's output is P V = P (X̂ W_vᵀ + b_v) = (P X̂) W_vᵀ + b_v (the rows of
/// P sum to 1), so the value path costs two products with L rows per head instead of one with S rows, forward and
/// backward (at the 7B shape, S = 636, L = 4: ~1.6 instead of ~43 GFLOP). Without it
/// (<see cref="ProbeImplementation.CheapAllValues"/>, the cheap probe before the fold) V is projected for every
/// position, as the layer itself does.
/// Mirrors <see cref="DecoderLayer"/> and <see cref="Attention"/> op for op otherwise.
/// </summary>
internal static class CheapProbe
{
    /// <summary>Logits [B, L, vocab] (dtype <paramref name="dtype"/>) of the L window rows of the probe layer's output.</summary>
    /// <param name="x">Residual stream [B, S, hidden] in <paramref name="dtype"/>.</param>
    /// <param name="rope">RoPE tables for all S positions.</param>
    /// <param name="window">Int64 [L] sorted sequence indices.</param>
    /// <param name="finalNorm">The model's final norm.</param>
    /// <param name="head">Head weight [vocab, hidden].</param>
    /// <param name="dtype">Compute dtype: weights of another dtype are cast to it for the call.</param>
    /// <param name="foldValues">Fold W_v behind the attention rows (see the class summary).</param>
    public static Tensor WindowLogits(DecoderLayer layer, Tensor x, RopeTables rope, Tensor window,
                                      Func<Tensor, Tensor> finalNorm, Tensor head, ScalarType dtype, bool foldValues = true)
    {
        using var _ = NewDisposeScope();
        var attn = layer.SelfAttention;
        long b = x.shape[0], s = x.shape[1], l = window.shape[0];

        var normed = layer.InputLayernorm.forward(x);
        var k = Project(attn.KProj, normed, dtype).view(b, s, attn.NumKvHeads, attn.HeadDim).transpose(1, 2);
        k = RotaryEmbedding.Apply(k, rope);

        var windowRope = new RopeTables(rope.Cos.index_select(0, window), rope.Sin.index_select(0, window));
        var q = Project(attn.QProj, normed.index_select(1, window), dtype).view(b, l, attn.NumHeads, attn.HeadDim).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, windowRope);

        // Causal by sequence index: the query at position p reads keys 0..p (window rows are not the last rows, so
        // Attention.Attend's bottom-right alignment does not apply).
        var mask = arange(s, dtype: ScalarType.Int64, device: x.device).unsqueeze(0) <= window.unsqueeze(1);   // [L, S]
        Tensor heads;                                                                                             // [B, H, L, D]
        if (foldValues)
            heads = FoldedValueAttention(q, k, normed, mask, attn.VProj, attn.NumKvHeads, dtype);
        else
        {
            var v = Project(attn.VProj, normed, dtype).view(b, s, attn.NumKvHeads, attn.HeadDim).transpose(1, 2);
            heads = MaskedAttention(q, k, v, mask, attn.Kernel);
        }
        var merged = heads.transpose(1, 2).reshape(b, l, (long)attn.NumHeads * attn.HeadDim);
        var h = x.index_select(1, window) + Project(attn.OProj, merged, dtype);

        var mlp = layer.Mlp;
        var post = layer.PostAttentionLayernorm.forward(h);
        var gated = nn.functional.silu(Project(mlp.GateProj, post, dtype)) * Project(mlp.UpProj, post, dtype);
        var y = h + Project(mlp.DownProj, gated, dtype);
        return nn.functional.linear(finalNorm(y), Cast(head, dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// softmax(QKᵀ/√D, masked) (X̂ W_vᵀ + b_v) computed as (P X̂) W_vᵀ + b_v per kv head, with each kv head's query
    /// group folded into the row axis (GQA). Scores and softmax as <see cref="MaskedAttention"/>'s eager path (softmax in
    /// fp32, probabilities in the compute dtype) whatever the layer's kernel: the fold needs P itself. q [B, H, L, D], k [B, Hkv, S, D], normed [B, S, hidden], mask [L, S].
    /// </summary>
    static Tensor FoldedValueAttention(Tensor q, Tensor k, Tensor normed, Tensor mask, Linear vProj, int kvHeads, ScalarType dtype)
    {
        long b = q.shape[0], heads = q.shape[1], l = q.shape[2], d = q.shape[3], s = k.shape[2], hidden = normed.shape[2];
        long groups = heads / kvHeads;
        var rows = q.reshape(b, kvHeads, groups * l, d);                          // row j·L + i: query head g·groups + j, window row i
        var scores = matmul(rows, k.transpose(-2, -1)) * (1.0 / Math.Sqrt(d));    // [B, Hkv, groups·L, S]
        scores = scores.masked_fill(mask.repeat(groups, 1).logical_not(), double.NegativeInfinity);
        var softmaxType = q.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var probs = scores.softmax(-1, dtype: softmaxType).to_type(q.dtype);
        // P X̂ as one [H·L, S] x [S, hidden] product per batch row (no broadcast over heads, so its backward is one
        // product too), then each kv head's rows times that head's slice of W_v.
        var mixed = matmul(probs.reshape(b, heads * l, s), normed).view(b, kvHeads, groups * l, hidden);
        var wv = Cast(vProj.weight!, dtype).view(kvHeads, d, hidden);
        var attended = matmul(mixed, wv.transpose(1, 2));                         // [B, Hkv, groups·L, D]
        if (vProj.bias is { } bias) attended = attended + Cast(bias, dtype).view(kvHeads, 1, d);
        return attended.reshape(b, heads, l, d);
    }

    /// <summary>softmax(QKᵀ/√D, masked) V with kv heads repeat-interleaved over their query groups (GQA).</summary>
    static Tensor MaskedAttention(Tensor q, Tensor k, Tensor v, Tensor mask, AttentionKernel kernel)
    {
        long heads = q.shape[1], kvHeads = k.shape[1];
        if (kvHeads != heads)
        {
            k = k.repeat_interleave(heads / kvHeads, dim: 1);
            v = v.repeat_interleave(heads / kvHeads, dim: 1);
        }
        if (kernel == AttentionKernel.Sdpa)
            return nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: mask);
        var softmaxType = q.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var scores = matmul(q, k.transpose(-2, -1)) * (1.0 / Math.Sqrt(q.shape[^1]));
        scores = scores.masked_fill(mask.logical_not(), double.NegativeInfinity);
        return matmul(scores.softmax(-1, dtype: softmaxType).to_type(q.dtype), v);
    }

    static Tensor Project(Linear linear, Tensor input, ScalarType dtype)
    {
        var bias = linear.bias is null ? null : Cast(linear.bias, dtype);
        return nn.functional.linear(input, Cast(linear.weight!, dtype), bias);
    }

    /// <summary>The weight itself when it already has the dtype, else a cast copy (in the caller's scope).</summary>
    internal static Tensor Cast(Tensor weight, ScalarType dtype) => weight.dtype == dtype ? weight : weight.to_type(dtype);
}
