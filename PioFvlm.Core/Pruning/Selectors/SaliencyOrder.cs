using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Selectors;

/// <summary>
/// The visiting order shared by the selectors: indices sorted by (−score, index). The reference uses an unstable
/// CUDA argsort, whose order among ties is implementation-defined; a stable order is the documented port choice
/// (spec §3.4), so ties go to the lower index.
/// </summary>
public static class SaliencyOrder
{
    /// <summary>Scores [V] (any float dtype, any device) as float32 values on the CPU; throws on NaN.</summary>
    public static float[] ReadScores(Tensor scores, long expectedCount)
    {
        if (scores.dim() != 1 || scores.shape[0] != expectedCount)
            throw new ArgumentException($"scores must be [{expectedCount}], got [{string.Join(", ", scores.shape)}]");
        float[] values;
        using (NewDisposeScope())
            values = scores.detach().to(ScalarType.Float32, CPU).contiguous().data<float>().ToArray();
        int nan = Array.FindIndex(values, float.IsNaN);
        if (nan >= 0)
            throw new ArgumentException($"score {nan} of {values.Length} is NaN; a selector needs orderable scores " +
                                        "(the pruner replaces non-finite scores by its fallback before selecting)");
        return values;
    }

    /// <summary>Indices 0..V−1 ordered by descending score, ties by ascending index.</summary>
    public static int[] Descending(float[] scores)
    {
        var order = new int[scores.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        Array.Sort(order, (a, b) =>
        {
            int byScore = scores[b].CompareTo(scores[a]);
            return byScore != 0 ? byScore : a.CompareTo(b);
        });
        return order;
    }
}
