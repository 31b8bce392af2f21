namespace PioFvlm.Core.Pruning.Attention;

/// <summary>
/// FastV's one stage under the layer-averaged convention B_avg the comparison tables use (spec baselines §2.1, §3.4):
/// K layers see all N visual tokens, the other L − K see the kept ones, and the per-layer average is the budget.
/// </summary>
public static class FastVBudget
{
    /// <summary>The keep count after layer <paramref name="k"/> for a per-layer average of <paramref name="budget"/>:
    /// round((L·B − K·N) / (L − K)) (30 / 98 / 166 for 64 / 128 / 192 on 576 tokens, 32 layers, K = 2).</summary>
    public static int KeepFor(int budget, int k, int layers, int visual)
    {
        CheckLayer(k, layers);
        double keep = ((double)layers * budget - (double)k * visual) / (layers - k);
        if (keep < 0 || keep > visual)
            throw new ArgumentOutOfRangeException(nameof(budget), budget, $"a per-layer average of {budget} is out of reach with {k} full layers of {visual} tokens");
        return (int)Math.Round(keep, MidpointRounding.AwayFromZero);
    }

    /// <summary>The same as a fraction of the original count, so it scales with the image:
    /// (L·f − K) / (L − K) for a target average retention <paramref name="retention"/> = f.</summary>
    public static double RatioFor(double retention, int k, int layers)
    {
        CheckLayer(k, layers);
        double ratio = (layers * retention - k) / (layers - k);
        if (ratio is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(retention), retention, $"an average retention of {retention} is out of reach with {k} full layers of {layers}");
        return ratio;
    }

    static void CheckLayer(int k, int layers)
    {
        if (k < 1 || k >= layers) throw new ArgumentOutOfRangeException(nameof(k), k, $"FastV K must be in 1..{layers - 1}");
    }
}
