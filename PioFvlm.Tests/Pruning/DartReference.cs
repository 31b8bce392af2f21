using PioFvlm.Models.Text.Llama;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>
/// A brute-force DART (specs/baselines.md §7.2-7.3) in doubles with plain loops over the layer weights: RMSNorm,
/// k projection, HF rotate-half RoPE at integer positions, key L1 norms; the final norm on the next hidden states;
/// cosines; pivots and the greedy least-duplicated picks (image pivots, then text pivots, each by descending norm).
/// </summary>
static class DartReference
{
    public static double[][] Rows(Tensor t)
    {
        var flat = t.to(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();
        int width = (int)t.shape[^1];
        return Enumerable.Range(0, flat.Length / width).Select(r => flat.Skip(r * width).Take(width).ToArray()).ToArray();
    }

    static double[] RmsNorm(double[] x, double[] weight, double eps)
    {
        double meanSquare = x.Sum(v => v * v) / x.Length;
        double scale = 1 / Math.Sqrt(meanSquare + eps);
        return x.Select((v, i) => weight[i] * v * scale).ToArray();
    }

    /// <summary>Key L1 norms of decoder layer <paramref name="layer"/> for its input rows <paramref name="input"/> at positions 0..S−1.</summary>
    public static double[] KeyNorms(LlamaForCausalLM lm, int layer, double[][] input, long[] positions)
    {
        var dims = lm.Dims;
        var decoderLayer = lm.Model.Layers[layer];
        double[] normWeight = decoderLayer.InputLayernorm.Weight.to(ScalarType.Float64).data<double>().ToArray();
        double[][] wk = Rows(decoderLayer.SelfAttention.KProj.weight!);          // [kvHeads * headDim][hidden]
        int d = dims.HeadDim, half = d / 2;
        var norms = new double[input.Length];
        for (int s = 0; s < input.Length; s++)
        {
            var x = RmsNorm(input[s], normWeight, dims.RmsNormEps);
            var k = wk.Select(row => row.Select((w, i) => w * x[i]).Sum()).ToArray();
            double total = 0;
            for (int h = 0; h < dims.NumKvHeads; h++)
                for (int i = 0; i < half; i++)
                {
                    // HF keeps inv_freq in float32 (so does the model); the angle itself is taken in double.
                    double angle = positions[s] * (double)(float)(1.0 / Math.Pow(dims.RopeTheta, 2.0 * i / d));
                    double a = k[h * d + i], b = k[h * d + i + half];
                    total += Math.Abs(a * Math.Cos(angle) - b * Math.Sin(angle)) + Math.Abs(b * Math.Cos(angle) + a * Math.Sin(angle));
                }
            norms[s] = total;
        }
        return norms;
    }

    /// <summary>Kept local indices (ascending) and the smallest gap between the last pick of a pivot and the first
    /// candidate it left, over all pivots (to tell a disagreement from a float32 near-tie).</summary>
    public static (long[] Kept, double Margin, double NormMargin) Select(LlamaForCausalLM lm, double[] keyNorms, double[][] output,
        long[] pool, long[] textAfter, int budget, int imagePivots = 4, int textPivots = 4)
    {
        double[] finalWeight = lm.Model.FinalNorm.Weight.to(ScalarType.Float64).data<double>().ToArray();
        var normed = output.Select(r => RmsNorm(r, finalWeight, lm.Dims.RmsNormEps)).ToArray();
        double Cos(long a, long b)
        {
            double dot = 0, na = 0, nb = 0;
            for (int i = 0; i < normed[a].Length; i++) { dot += normed[a][i] * normed[b][i]; na += normed[a][i] * normed[a][i]; nb += normed[b][i] * normed[b][i]; }
            return dot / Math.Sqrt(na * nb);
        }
        var imageOrder = Enumerable.Range(0, pool.Length).OrderByDescending(i => keyNorms[pool[i]]).ToArray();
        var textOrder = textAfter.OrderByDescending(p => keyNorms[p]).ToArray();
        double normMargin = Math.Min(Gap(imageOrder.Select(i => keyNorms[pool[i]]).ToArray(), imagePivots),
                                     Gap(textOrder.Select(p => keyNorms[p]).ToArray(), textPivots));
        var imageP = imageOrder.Take(imagePivots).ToList();
        var pivots = imageP.Select(i => pool[i]).Concat(textOrder.Take(textPivots)).ToList();
        int topk = budget / (imagePivots + textPivots);
        var kept = new List<long>(imageP.Select(i => (long)i));
        var candidates = Enumerable.Range(0, pool.Length).Where(i => !imageP.Contains(i)).ToList();
        double margin = double.PositiveInfinity;
        foreach (long p in pivots)
        {
            var ranked = candidates.Select(j => (j, c: Cos(p, pool[j]))).OrderBy(t => t.c).ThenBy(t => t.j).ToList();
            var take = ranked.Take(topk).ToList();
            if (take.Count > 0 && ranked.Count > take.Count) margin = Math.Min(margin, ranked[take.Count].c - take[^1].c);
            kept.AddRange(take.Select(t => (long)t.j));
            candidates.RemoveAll(j => take.Any(t => t.j == j));
        }
        return (kept.Order().ToArray(), margin, normMargin);
    }

    static double Gap(double[] descending, int count) =>
        count > 0 && descending.Length > count ? descending[count - 1] - descending[count] : double.PositiveInfinity;
}
