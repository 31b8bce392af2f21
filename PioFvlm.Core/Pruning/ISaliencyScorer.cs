using PioFvlm.Core.Generation;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning;

/// <summary>
/// Scores every visual token of a prefill state (gradient saliency, attention, feature norm, random...).
/// Higher = more important.
/// </summary>
public interface ISaliencyScorer
{
    /// <summary>
    /// Float32 scores [V] for the V visual tokens of <paramref name="state"/>, in sequence order (the visual spans
    /// concatenated). Must not modify the state or any KV cache.
    /// </summary>
    Tensor Score(PrefillState state, IDecoderStack decoder);
}
