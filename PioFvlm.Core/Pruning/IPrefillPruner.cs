using PioFvlm.Core.Generation;

namespace PioFvlm.Core.Pruning;

/// <summary>
/// The intra-LLM insertion point: called by the prefill loop between decoder layers r-1 and r (r = LayersDone,
/// 1-based count of layers already run) for every r that <see cref="PrunesAfter"/> names. Prefill only; decode never
/// calls it. The model owns the call site (TorchSharp's forward() bypasses hooks).
/// </summary>
public interface IPrefillPruner
{
    /// <summary>
    /// Called once at the start of every prefill with the decoder depth: throws when the pruner's stages do not fit it
    /// (a stage at layer L or beyond would otherwise never run, silently).
    /// </summary>
    void Validate(int layerCount) { }

    /// <summary>
    /// Called once at the start of every prefill, after <see cref="Validate"/> and before layer 0, with the decoder
    /// input (the embeddings, LayersDone = 0). For pruners that need the layer-0 input (SparseVLM's text raters and a
    /// pruning layer 0); it must not change or keep the state's tensors.
    /// </summary>
    void Begin(PrefillState input, IDecoderStack decoder) { }

    /// <summary>Whether a stage runs after <paramref name="layersDone"/> layers.</summary>
    bool PrunesAfter(int layersDone);

    /// <summary>
    /// Returns the new state (the same object when nothing is pruned). The returned tensors must be new tensors or the
    /// input ones; the loop disposes the old ones it no longer needs.
    /// </summary>
    PrefillState Prune(PrefillState state, IDecoderStack decoder);
}
