using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Attention;

namespace PioFvlm.Models.Llava;

/// <summary>
/// FastV and PDrop schedules for LLaVA-1.5-7B (576 visual tokens, 32 layers) at the published 64 / 128 / 192 budgets,
/// under the layer-averaged convention B_avg the comparison tables use (spec baselines §2.1). They are conventions, not
/// the authors' documented settings: FastV's paper has no such rows (§3.4) and PDrop's are undocumented (§6.4).
/// </summary>
public static class Llava15AttentionBaselines
{
    public const int VisualTokens = 576;
    public const int Layers = 32;
    public const int FastVLayer = 2;

    /// <summary>
    /// FastV's keep count after layer <paramref name="k"/> so the per-layer average is <paramref name="budget"/>:
    /// round((L·B − K·N) / (L − K)) (§3.4: 30 / 98 / 166 for 64 / 128 / 192 at K = 2).
    /// </summary>
    public static int FastVKeep(int budget, int k = FastVLayer, int layers = Layers, int visual = VisualTokens) =>
        FastVBudget.KeepFor(budget, k, layers, visual);

    /// <summary>FastV at K = 2 keeping <see cref="FastVKeep"/> of <paramref name="budget"/> (B_avg convention).</summary>
    public static PruningSchedule FastV(int budget) => new()
    {
        Name = $"fastv-{budget}",
        Stages = [new PruningStage { AfterLayer = FastVLayer, Keep = FastVKeep(budget) }],
        Note = $"FastV K = 2, keep {FastVKeep(budget)} from layer 2 on: B_avg = {budget} (spec baselines §3.4)",
    };

    /// <summary>
    /// PDrop with the SparseVLM-style schedule that the SCOPE repository labels "original pdrop parameters" (§6.4):
    /// layers [2, 6, 16], absolute counts [66, 30, 17] / [303, 110, 36] / [300, 200, 110] for 64 / 128 / 192.
    /// </summary>
    public static PruningSchedule PDrop(int budget)
    {
        int[] keep = budget switch
        {
            64 => [66, 30, 17],
            128 => [303, 110, 36],
            192 => [300, 200, 110],
            _ => throw new ArgumentOutOfRangeException(nameof(budget), budget, "PDrop presets exist for 64, 128 and 192 visual tokens"),
        };
        int[] layers = [2, 6, 16];
        return new PruningSchedule
        {
            Name = $"pdrop-{budget}",
            Stages = layers.Select((l, i) => new PruningStage { AfterLayer = l, Keep = keep[i] }).ToArray(),
            Note = $"PDrop layers [2, 6, 16] keep [{string.Join(", ", keep)}] (SCOPE repo / SparseVLM schedule, spec baselines §6.4)",
        };
    }

    /// <summary>The official PDrop default (README): layers [8, 16, 24], ratios [0.5, 0.25, 0.125] of the original count
    /// (B_avg 270 on LLaVA-1.5, not a table budget).</summary>
    public static PruningSchedule PDropOfficial { get; } = new()
    {
        Name = "pdrop-official",
        Stages = new[] { 8, 16, 24 }.Select((l, i) => new PruningStage { AfterLayer = l, Ratio = 0.5 / (1 << i), RatioOf = RatioBase.Original }).ToArray(),
        Note = "PDrop official default: layer_list [8, 16, 24], image_token_ratio_list [0.5, 0.25, 0.125] of the original count",
    };
}
