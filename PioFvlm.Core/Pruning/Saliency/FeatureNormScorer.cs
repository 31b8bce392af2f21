using PioFvlm.Core.Generation;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Saliency;

/// <summary>Scores each visual token by the L2 norm of its residual-stream row (float32): a cheap baseline, and the
/// order <see cref="ScoreThenSelectPruner"/> falls back to when a scorer's output is unusable.</summary>
public sealed class FeatureNormScorer : ISaliencyScorer
{
    public Tensor Score(PrefillState state, IDecoderStack decoder)
    {
        using var scope = NewDisposeScope();
        return VisualTokens.Features(state).to(ScalarType.Float32).norm(1).MoveToOuterDisposeScope();
    }
}
