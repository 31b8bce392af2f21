using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Core.Pruning.Selectors;

namespace PioFvlm.Core.Pruning;

/// <summary>PIO-FVLM settings; defaults are the reference semantics plus the deterministic sort and the cheap exact probe.</summary>
public sealed record PioFvlmOptions
{
    public required PruningSchedule Schedule { get; init; }
    public GradientSaliencyOptions Saliency { get; init; } = GradientSaliencyOptions.Llava;
    /// <summary>Feature-space NMS (reference); false = plain top-K by saliency (the reference's ablation switch).</summary>
    public bool Nms { get; init; } = true;
    public double NmsThreshold { get; init; } = FeatureNms.DefaultThreshold;
    /// <summary>Null: the model family's default (Compact for LLaVA, KeepOriginal for Qwen, both the reference's).</summary>
    public PositionPolicy? Positions { get; init; }
}

/// <summary>
/// PIO-FVLM = ScoreThenSelect(GradientSaliency, FeatureNms) inside the LLM, plus, for "w/ VE" schedules
/// (<see cref="PruningSchedule.PreLlmKeep"/>), the reference's encoder stage (VScan's) before it.
/// </summary>
public static class PioFvlmMethod
{
    public static PruningPlan Create(PioFvlmOptions options)
    {
        options.Schedule.ValidateShape();
        var (scorer, selector) = PruningRegistry.CreateIntra("PioFvlm",
            new IntraMethodSettings { Saliency = options.Saliency, Nms = options.Nms, NmsThreshold = options.NmsThreshold });
        var intra = options.Schedule.Stages.Count == 0 ? null : new ScoreThenSelectPruner(scorer, selector, options.Schedule);
        IPreLlmReducer? preLlm = options.Schedule.PreLlmKeep is int keep ? PruningRegistry.CreatePreLlm("VScan", keep) : null;
        return new PruningPlan($"PioFvlm/{options.Schedule.Name}", preLlm, intra, options.Positions);
    }
}
