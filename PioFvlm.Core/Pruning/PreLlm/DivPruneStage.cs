using PioFvlm.Core.Pruning.Selectors;

namespace PioFvlm.Core.Pruning.PreLlm;

/// <summary>
/// DivPrune (specs/baselines.md §8) before the LLM: per image, keep min(<see cref="Budget"/>, N) of the projected
/// visual tokens (the LLM input embeddings) chosen by greedy max-min cosine diversity (<see cref="MaxMinDiversity"/>),
/// in raster order, without merging. Text-agnostic; needs no vision-side signal. Budgets are the pre-LLM count B_in:
/// the reference's <c>round(ratio · N)</c> with ratio = B / 576 is exactly B on LLaVA-1.5, so 64 / 128 / 192 keep
/// 64 / 128 / 192 tokens. The position ids of the shortened sequence are a fresh arange, as in the reference.
/// </summary>
public sealed class DivPruneStage : IPreLlmReducer
{
    /// <summary>Tokens kept per image.</summary>
    public int Budget { get; }

    public DivPruneStage(int budget)
    {
        if (budget < 1)
            throw new ArgumentOutOfRangeException(nameof(budget), $"DivPrune budget {budget}: at least one token per image must be kept");
        Budget = budget;
    }

    public VisionSignalRequest Signals => VisionSignalRequest.None;

    public PreLlmReduction Reduce(VisionStageContext context)
    {
        var kept = MaxMinDiversity.Select(context.Features, Budget);
        using var index = TorchSharp.torch.tensor(kept, TorchSharp.torch.ScalarType.Int64, context.Features.device);
        return new PreLlmReduction(context.Features.index_select(0, index), kept);
    }
}
