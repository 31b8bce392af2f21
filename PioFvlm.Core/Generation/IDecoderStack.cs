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

    // The pieces below let a probe (gradient saliency) run one layer and the head outside the prefill loop.

    /// <summary>Decoder layer <paramref name="index"/> (0-based), for running it outside <see cref="RunLayers"/>.</summary>
    DecoderLayer Layer(int index);

    /// <summary>RoPE tables for position ids [R, S] in <paramref name="dtype"/>, as <see cref="RunLayers"/> uses them.</summary>
    RopeTables Rope(Tensor positionIds, ScalarType dtype);

    /// <summary>The final norm alone, on the un-normed residual stream [.., hidden].</summary>
    Tensor Norm(Tensor hidden);

    /// <summary>The LM head's weight [vocab, hidden] (no bias): <c>Logits = Norm(h) · OutputHeadWeightᵀ</c>.</summary>
    Tensor OutputHeadWeight { get; }

    /// <summary>The input embedding matrix [vocab, hidden] (embed_tokens.weight).</summary>
    Tensor InputEmbeddingWeight { get; }
}
