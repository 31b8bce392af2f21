using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.SparseVlm;

/// <summary>
/// SparseVLM's text raters (spec baselines §5.3), chosen once per prompt from the decoder input embeddings:
/// M = softmax over the text axis of V·Tᵀ (V = visual embeddings, T = embeddings of every token after the image),
/// r_t = mean over the visual rows of M[:, t], raters = { t : r_t &gt; mean(r) }.
/// </summary>
public static class SparseVlmRaters
{
    /// <summary>
    /// Indices into the rows of <paramref name="text"/> [T, H] of the raters, ascending, given the visual embeddings
    /// <paramref name="visual"/> [V, H]. Computed in float32 (float64 for float64 inputs). When no token rates above
    /// the mean (a single text token, or all equal) every text token rates: the reference would average an empty set.
    /// </summary>
    public static long[] Select(Tensor visual, Tensor text)
    {
        if (visual.dim() != 2 || text.dim() != 2 || visual.shape[1] != text.shape[1])
            throw new ArgumentException($"SparseVlmRaters: visual [V, H] and text [T, H] must share H, got [{string.Join(", ", visual.shape)}] and [{string.Join(", ", text.shape)}]");
        long count = text.shape[0];
        if (count == 0 || visual.shape[0] == 0) return [];
        using var scope = NewDisposeScope();
        var type = visual.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var relevance = visual.to(type).matmul(text.to(type).t()).softmax(1).mean([0L]);    // [T]
        var above = (relevance > relevance.mean()).to(ScalarType.Bool).cpu();
        var chosen = new List<long>();
        for (long t = 0; t < count; t++) if (above[t].item<bool>()) chosen.Add(t);
        return chosen.Count > 0 ? chosen.ToArray() : Enumerable.Range(0, (int)count).Select(t => (long)t).ToArray();
    }
}
