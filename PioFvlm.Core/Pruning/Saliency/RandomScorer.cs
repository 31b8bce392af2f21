using PioFvlm.Core.Generation;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Saliency;

/// <summary>
/// Uniform random scores (the Random baseline). The generator is seeded from (<see cref="Seed"/>, layers done), so a
/// stage draws the same scores on every prefill whatever ran before it.
/// </summary>
public sealed class RandomScorer(long seed = 0) : ISaliencyScorer
{
    public long Seed { get; } = seed;

    public Tensor Score(PrefillState state, IDecoderStack decoder)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(unchecked((ulong)(Seed * 1_000_003 + state.LayersDone)));
        var scores = rand([state.VisualTokenCount], generator: generator, dtype: ScalarType.Float32);
        return scores.to(state.Hidden.device).MoveToOuterDisposeScope();
    }
}
