using PioFvlm.Core.Generation;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>
/// Test oracles for SparseVLM written from the spec, independently of PioFvlm.Core.Pruning.SparseVlm: the full eager
/// attention map of a layer from its raw weights, the rater rule with plain loops, and the per-stage ranking.
/// </summary>
internal static class SparseVlmReference
{
    /// <summary>The whole causal attention map [heads, S, S] (float64) of layer <paramref name="layer"/> on its input
    /// <paramref name="hidden"/> [1, S, H]: RMSNorm, q/k projections, RoPE (rotate-half, θ from the dims) at
    /// <paramref name="positions"/>, softmax(QKᵀ/√d + causal mask).</summary>
    public static Tensor EagerAttention(IDecoderStack lm, int layer, Tensor hidden, long[] positions)
    {
        using var scope = NewDisposeScope();
        var dims = lm.Dims;
        var l = lm.Layer(layer);
        long s = hidden.shape[1], d = dims.HeadDim, heads = dims.NumHeads, kv = dims.NumKvHeads;
        var x = hidden[0].to(ScalarType.Float64);
        var normed = x / (x.pow(2).mean([-1L], keepdim: true) + dims.RmsNormEps).sqrt() * l.InputLayernorm.Weight.to(ScalarType.Float64);
        var q = normed.matmul(l.SelfAttention.QProj.weight!.to(ScalarType.Float64).t()).view(s, heads, d);
        var k = normed.matmul(l.SelfAttention.KProj.weight!.to(ScalarType.Float64).t()).view(s, kv, d);
        var invFreq = tensor(Enumerable.Range(0, (int)d / 2).Select(i => 1.0 / Math.Pow(dims.RopeTheta, 2.0 * i / d)).ToArray());
        var angles = tensor(positions.Select(p => (double)p).ToArray()).unsqueeze(1) * invFreq.unsqueeze(0);   // [S, d/2]
        var cosT = cat([angles.cos(), angles.cos()], 1).unsqueeze(1);
        var sinT = cat([angles.sin(), angles.sin()], 1).unsqueeze(1);
        Tensor Rotate(Tensor t) => t * cosT + cat([-t.narrow(-1, d / 2, d / 2), t.narrow(-1, 0, d / 2)], -1) * sinT;
        q = Rotate(q).permute(1, 0, 2);                                                // [heads, S, d]
        k = Rotate(k).permute(1, 0, 2).repeat_interleave(heads / kv, dim: 0);
        var logits = q.matmul(k.transpose(1, 2)) / Math.Sqrt(d);
        var mask = ones(s, s, dtype: ScalarType.Bool).tril();
        return logits.masked_fill(mask.logical_not(), double.NegativeInfinity).softmax(-1).MoveToOuterDisposeScope();
    }

    /// <summary>Raters by the spec's rule with loops: softmax of each visual row's dot products over the text tokens,
    /// mean over visual rows, keep those above the mean (all when none is).</summary>
    public static long[] Raters(double[][] visual, double[][] text)
    {
        var relevance = new double[text.Length];
        foreach (var v in visual)
        {
            var dots = text.Select(t => t.Zip(v, (a, b) => a * b).Sum()).ToArray();
            double max = dots.Max();
            var e = dots.Select(x => Math.Exp(x - max)).ToArray();
            double z = e.Sum();
            for (int t = 0; t < text.Length; t++) relevance[t] += e[t] / z / visual.Length;
        }
        double mean = relevance.Average();
        var chosen = Enumerable.Range(0, text.Length).Where(t => relevance[t] > mean).Select(t => (long)t).ToArray();
        return chosen.Length > 0 ? chosen : Enumerable.Range(0, text.Length).Select(t => (long)t).ToArray();
    }

    /// <summary>Visual scores: the full map averaged over heads and rater rows, at the visual columns.</summary>
    public static double[] Scores(Tensor attention, long[] raterRows, long[] visualPositions)
    {
        var a = attention.to(ScalarType.Float64);
        var result = new double[visualPositions.Length];
        long heads = a.shape[0];
        for (int j = 0; j < visualPositions.Length; j++)
        {
            double sum = 0;
            for (long h = 0; h < heads; h++)
                foreach (long r in raterRows) sum += a[h, r, visualPositions[j]].item<double>();
            result[j] = sum / (heads * raterRows.Length);
        }
        return result;
    }

    /// <summary>The kept local indices: the <paramref name="keep"/> highest scores (ties to the lower index), ascending.</summary>
    public static long[] TopK(double[] scores, int keep)
    {
        var idx = Enumerable.Range(0, scores.Length).ToList();
        idx.Sort((a, b) => scores[b] != scores[a] ? scores[b].CompareTo(scores[a]) : a.CompareTo(b));
        return idx.Take(keep).OrderBy(i => i).Select(i => (long)i).ToArray();
    }

    public static double[][] Rows(Tensor t)
    {
        var m = t.to(ScalarType.Float64).contiguous();
        int cols = (int)m.shape[1];
        var flat = m.data<double>().ToArray();
        return Enumerable.Range(0, (int)m.shape[0]).Select(r => flat.Skip(r * cols).Take(cols).ToArray()).ToArray();
    }
}
