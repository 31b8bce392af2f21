using PioFvlm.Core.Generation;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>
/// The test-side oracle for attention rows: the FULL eager attention matrix of one decoder layer, built from the layer's
/// weights with plain float64 tensor algebra (RMSNorm, projections, RoPE from θ, every kv head copied per query head,
/// softmax(QKᵀ/√d) with the causal mask as an upper triangle). Shares nothing with AttentionRows but the weights.
/// </summary>
internal static class AttentionRowsReference
{
    /// <summary>Probabilities [H, S, S] (float64) of layer <paramref name="layer"/> on its input hidden [1, S, H] at
    /// 1-D positions <paramref name="positions"/>.</summary>
    public static Tensor FullMatrix(IDecoderStack decoder, int layer, Tensor hidden, long[] positions)
    {
        using var scope = NewDisposeScope();
        var dims = decoder.Dims;
        var block = decoder.Layer(layer);
        var att = block.SelfAttention;
        long s = hidden.shape[1], heads = dims.NumHeads, kv = dims.NumKvHeads, d = dims.HeadDim;
        var h = hidden[0].to(ScalarType.Float64);
        var normed = h * (h.pow(2).mean([1], keepdim: true) + dims.RmsNormEps).rsqrt() * block.InputLayernorm.Weight.to(ScalarType.Float64);
        var q = matmul(normed, att.QProj.weight!.to(ScalarType.Float64).t()).view(s, heads, d).transpose(0, 1);   // [H, S, D]
        var k = matmul(normed, att.KProj.weight!.to(ScalarType.Float64).t()).view(s, kv, d).transpose(0, 1);      // [Hkv, S, D]

        var invFreq = tensor(Enumerable.Range(0, (int)d / 2).Select(i => 1.0 / Math.Pow(dims.RopeTheta, 2.0 * i / d)).ToArray(), ScalarType.Float64);
        var angles = tensor(positions.Select(p => (double)p).ToArray(), ScalarType.Float64).unsqueeze(1) * invFreq;   // [S, D/2]
        var cos = cat([angles.cos(), angles.cos()], 1);
        var sin = cat([angles.sin(), angles.sin()], 1);
        Tensor Rotate(Tensor x) => x * cos + cat([-x.narrow(-1, d / 2, d / 2), x.narrow(-1, 0, d / 2)], -1) * sin;
        q = Rotate(q);
        k = Rotate(k);

        var kFull = stack(Enumerable.Range(0, (int)heads).Select(hh => k[hh / (heads / kv)]).ToArray());       // [H, S, D]
        var scores = matmul(q, kFull.transpose(1, 2)) / Math.Sqrt(d);
        var future = ones(s, s, ScalarType.Bool).triu(1);
        return scores.masked_fill(future, double.NegativeInfinity).softmax(-1).MoveToOuterDisposeScope();
    }

    /// <summary>Indices of the <paramref name="keep"/> largest values (ties: lower index first), sorted ascending.</summary>
    public static long[] TopSorted(double[] scores, int keep) =>
        scores.Select((v, i) => (v, i)).OrderByDescending(t => t.v).ThenBy(t => t.i).Take(keep).Select(t => (long)t.i).Order().ToArray();
}
