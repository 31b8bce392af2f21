using PioFvlm.Core.Generation;
using PioFvlm.Core.Models;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Core.Pruning.Selectors;

namespace PioFvlm.Core.Pruning;

/// <summary>PIO-FVLM settings; defaults are the reference semantics plus the deterministic sort and the cheap exact probe.</summary>
public sealed record PioFvlmOptions
{
    public required PruningSchedule Schedule { get; init; }
    /// <summary>Null: the model family's (<see cref="Models.ModelProfile.Saliency"/>, given to <see cref="PioFvlmMethod.Create"/>),
    /// else the LLaVA reference's defaults.</summary>
    public GradientSaliencyOptions? Saliency { get; init; }
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
    /// <param name="options">The schedule and settings.</param>
    /// <param name="profile">The model family the plan is for: its saliency settings apply when
    /// <see cref="PioFvlmOptions.Saliency"/> is null.</param>
    public static PruningPlan Create(PioFvlmOptions options, ModelProfile? profile = null)
    {
        options.Schedule.ValidateShape();
        var saliency = options.Saliency ?? profile?.Saliency ?? new GradientSaliencyOptions();
        var (scorer, selector) = PruningRegistry.CreateIntra("PioFvlm",
            new IntraMethodSettings { Saliency = saliency, Nms = options.Nms, NmsThreshold = options.NmsThreshold });
        var intra = options.Schedule.Stages.Count == 0 ? null : new ScoreThenSelectPruner(scorer, selector, options.Schedule);
        IPreLlmReducer? preLlm = options.Schedule.PreLlmKeep is { } budget ? PruningRegistry.CreatePreLlm("VScan", budget) : null;
        return new PruningPlan($"PioFvlm/{options.Schedule.Name}", preLlm, intra, options.Positions);
    }
}
