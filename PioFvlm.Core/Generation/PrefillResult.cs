using PioFvlm.Core.Pruning;
using static TorchSharp.torch;

namespace PioFvlm.Core.Generation;

/// <summary>
/// The outcome of a prefill: next-token logits [vocab] (float32), the decode state, what it cost, and what the pruning
/// did (<see cref="Stages"/>, <see cref="PreLlm"/>). Everything here belongs to this prefill alone.
/// </summary>
public sealed class PrefillResult : IDisposable
{
    public required Tensor LastLogits { get; init; }
    public required DecodeState DecodeState { get; init; }
    /// <summary>Visual tokens at the first decoder layer and after the last pruning stage.</summary>
    public required long VisualTokensIn { get; init; }
    public required long VisualTokensOut { get; init; }
    public required long PromptLength { get; init; }
    /// <summary>Sequence length seen by each decoder layer.</summary>
    public required IReadOnlyList<long> TokensPerLayer { get; init; }
    /// <summary>Visual tokens seen by each decoder layer.</summary>
    public required IReadOnlyList<long> VisualTokensPerLayer { get; init; }
    public required double PrefillMs { get; init; }
    public required double PruningMs { get; init; }
    /// <summary>The intra-LLM stages this prefill ran, in order (reports of method-specific types where the method has
    /// more to say, e.g. SparseVLM's recycling); empty when no intra-LLM pruner ran.</summary>
    public IReadOnlyList<PruningStageReport> Stages { get; init; } = [];
    /// <summary>What the pre-LLM reducer did to the images (from <see cref="MultimodalSequence.PreLlm"/>); null when none ran.</summary>
    public PreLlmStageReport? PreLlm { get; init; }

    public void Dispose() => LastLogits.Dispose();
}
