using PioFvlm.Core.Generation;

namespace PioFvlm.Core.Pruning;

/// <summary>
/// Everything one generation needs to reduce visual tokens, at the two insertion points the model owns: an optional
/// pre-LLM reducer (after the projector, before the splice) and an optional intra-LLM pruner (between decoder layers,
/// prefill only), with the position policy the decode must follow. <see cref="None"/> is the unpruned model.
/// </summary>
public sealed record PruningPlan(string Name, IPreLlmReducer? PreLlm, IPrefillPruner? Intra, PositionPolicy? Positions = null)
{
    public static PruningPlan None { get; } = new("unpruned", null, null);
}
