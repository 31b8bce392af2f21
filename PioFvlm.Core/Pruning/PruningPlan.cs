using PioFvlm.Core.Generation;

namespace PioFvlm.Core.Pruning;

/// <summary>
/// Everything one generation needs to reduce visual tokens, at the two insertion points the model owns: an optional
/// pre-LLM reducer (after the projector, before the splice) and an optional intra-LLM pruner (between decoder layers,
/// prefill only), with the position policy the decode must follow. <see cref="None"/> is the unpruned model.
/// </summary>
public sealed record PruningPlan(string Name, IPreLlmReducer? PreLlm, IPrefillPruner? Intra, PositionPolicy? Positions = null)
{
    /// <summary>Which tokens of an anyres (LLaVA-NeXT) image are visual tokens for pruning; null leaves it to the model
    /// (<c>LlavaNextPipeline.PruningScope</c>, whole image by default). Families without a base view refuse
    /// <see cref="AnyresPruningScope.BaseViewOnly"/>.</summary>
    public AnyresPruningScope? Scope { get; init; }

    public static PruningPlan None { get; } = new("unpruned", null, null);
}
