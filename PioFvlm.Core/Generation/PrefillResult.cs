using static TorchSharp.torch;

namespace PioFvlm.Core.Generation;

/// <summary>The outcome of a prefill: next-token logits [vocab] (float32), the decode state and what it cost.</summary>
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

    public void Dispose() => LastLogits.Dispose();
}
