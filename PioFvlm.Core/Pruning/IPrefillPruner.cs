using PioFvlm.Core.Generation;

namespace PioFvlm.Core.Pruning;

/// <summary>
/// The intra-LLM insertion point: called by the prefill loop between decoder layers r-1 and r (r = LayersDone,
/// 1-based count of layers already run) for every r that <see cref="PrunesAfter"/> names. Prefill only; decode never
/// calls it. The model owns the call site (TorchSharp's forward() bypasses hooks).
/// </summary>
/// <remarks>
/// A pruner holds only its configuration: whatever one prefill produces (stage reports, signals read a layer early,
/// per-prompt choices) travels in the <see cref="PrefillState"/> it returns (<see cref="PrefillState.Stages"/>,
/// <see cref="PrefillState.Scratch"/>). One pruner may therefore serve several prefills at once, on any threads.
/// </remarks>
public interface IPrefillPruner
{
    /// <summary>
    /// Called once at the start of every prefill with the decoder depth: throws when the pruner's stages do not fit it
    /// (a stage at layer L or beyond would otherwise never run, silently).
    /// </summary>
    void Validate(int layerCount) { }

    /// <summary>
    /// Called once at the start of every prefill, after <see cref="Validate"/> and before layer 0, with the decoder
    /// input (the embeddings, LayersDone = 0, no stages, no scratch). For pruners that need the layer-0 input
    /// (SparseVLM's text raters, a signal for a stage after layer 1): they return the input with their
    /// <see cref="PrefillState.Scratch"/> set. The returned state must keep the input's tensors unchanged.
    /// </summary>
    PrefillState Begin(PrefillState input, IDecoderStack decoder) => input;

    /// <summary>Whether a stage runs after <paramref name="layersDone"/> layers.</summary>
    bool PrunesAfter(int layersDone);

    /// <summary>
    /// Returns the new state: the input's <see cref="PrefillState.Stages"/> plus one report per stage run here, and the
    /// pruner's scratch for later calls. Tensors are the input ones when nothing is pruned, otherwise new tensors; the
    /// loop disposes the old ones it no longer needs.
    /// </summary>
    PrefillState Prune(PrefillState state, IDecoderStack decoder);
}
