using PioFvlm.Core.Nn;
using static TorchSharp.torch;

namespace PioFvlm.Core.Generation;

/// <summary>
/// What the prefill/decode loop and the pruning engine need from a language model: embeddings, a range of layers on
/// the residual stream, and the output head. Implemented by every family's decoder (LLaMA/Mistral, Qwen2).
/// </summary>
public interface IDecoderStack
{
    int LayerCount { get; }
    DecoderDims Dims { get; }

    /// <summary>Token ids [B, T] → embeddings [B, T, H].</summary>
    Tensor Embed(Tensor inputIds);

    /// <summary>Runs layers [from, to) on the un-normed residual stream; appends to the cache when given.</summary>
    Tensor RunLayers(Tensor hidden, Tensor positionIds, KvCache? cache, int fromLayer, int toLayer);

    /// <summary>Final norm + LM head: [B, S, vocab], or [B, 1, vocab] for the last position.</summary>
    Tensor Logits(Tensor hidden, bool lastPositionOnly = false);
}
