using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Selectors;

/// <summary>
/// DivPrune's greedy Max-Min Diversity selection (Alvar et al., CVPR'25; specs/baselines.md §8.3) on cosine distance
/// d(i, j) = 1 − cos(v_i, v_j) between feature rows:
/// <list type="number">
/// <item>First pick: the token whose nearest neighbour is farthest, i.e. argmax over columns j of the second-smallest
/// d(·, j) (the smallest being the token itself), as the reference's <c>topk(2, largest=False)[1]</c>.</item>
/// <item>Every next pick: argmax over j of min over the picked s of d(s, j), kept as one running-minimum vector
/// (equivalent to the reference's per-step <c>index_select</c> + <c>min</c>).</item>
/// </list>
/// Differences from the reference, invisible on ordinary inputs: ties go to the lowest index (torch's CPU argmax
/// does the same); picked tokens are excluded outright instead of relying on their self-distance being the minimum
/// (they could be re-picked there only when every other token duplicates a picked one exactly); rows are divided by
/// max(‖v‖, 1e-12) so a zero row has cosine 0 to everything instead of NaN. Distances are computed in float32.
/// </summary>
public static class MaxMinDiversity
{
    /// <summary>The min(<paramref name="keep"/>, N) picks of <paramref name="features"/> [N, H], in pick order.</summary>
    public static long[] GreedyOrder(Tensor features, int keep)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(keep);
        if (features.dim() != 2)
            throw new ArgumentException($"DivPrune features must be [N, H], got [{string.Join(", ", features.shape)}]");
        int n = checked((int)features.shape[0]);
        int k = Math.Min(keep, n);
        if (k == 0) return [];
        float[] distance = CosineDistances(features);

        var picked = new bool[n];
        var order = new long[k];
        var score = new double[n];
        for (int j = 0; j < n; j++) score[j] = SecondSmallestInColumn(distance, n, j);
        for (int t = 0; t < k; t++)
        {
            int best = -1;
            for (int j = 0; j < n; j++)
                if (!picked[j] && (best < 0 || score[j] > score[best])) best = j;
            picked[best] = true;
            order[t] = best;
            // From the second pick on, a token's score is its distance to the closest picked token.
            int row = best * n;
            for (int j = 0; j < n; j++)
            {
                double d = distance[row + j];
                score[j] = t == 0 ? d : Math.Min(score[j], d);
            }
        }
        return order;
    }

    /// <summary>The picks of <see cref="GreedyOrder"/>, ascending (raster order).</summary>
    public static long[] Select(Tensor features, int keep)
    {
        var kept = GreedyOrder(features, keep);
        Array.Sort(kept);
        return kept;
    }

    /// <summary>Row-major N × N cosine distances in float32; throws on non-finite features.</summary>
    static float[] CosineDistances(Tensor features)
    {
        using var scope = NewDisposeScope();
        var v = features.detach().to(ScalarType.Float32);
        if (!v.isfinite().all().item<bool>())
            throw new ArgumentException($"DivPrune features [{string.Join(", ", features.shape)}] hold NaN or infinite values");
        var unit = v / v.norm(1, keepdim: true).clamp_min(1e-12);
        var distance = 1 - unit.matmul(unit.t());
        return distance.cpu().contiguous().data<float>().ToArray();
    }

    static double SecondSmallestInColumn(float[] distance, int n, int column)
    {
        if (n == 1) return distance[column];
        double smallest = double.PositiveInfinity, second = double.PositiveInfinity;
        for (int i = 0; i < n; i++)
        {
            double d = distance[i * n + column];
            if (d < smallest) { second = smallest; smallest = d; }
            else if (d < second) second = d;
        }
        return second;
    }
}
