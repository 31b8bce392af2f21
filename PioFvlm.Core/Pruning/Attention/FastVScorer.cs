using PioFvlm.Core.Generation;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Attention;

/// <summary>
/// FastV (spec baselines §3): for the stage after layer K, the head-mean attention that the last prompt token pays to
/// each visual token inside layer K−1, computed on layer K−1's own input (captured one layer earlier; see
/// <see cref="IPriorLayerScorer"/>). Pair it with <see cref="Selectors.TopKSelector"/>: keep the top budget, original
/// order. The captured scores are held as a plain array, so nothing native outlives the prefill.
/// </summary>
public sealed class FastVScorer : IPriorLayerScorer
{
    readonly Dictionary<int, float[]> _captured = [];

    public void Capture(PrefillState state, IDecoderStack decoder)
    {
        using var scope = NewDisposeScope();
        var scores = AttentionRows.LastTokenToVisual(decoder, state.LayersDone, state);
        _captured[state.LayersDone + 1] = scores.cpu().data<float>().ToArray();
    }

    public Tensor Score(PrefillState state, IDecoderStack decoder)
    {
        if (!_captured.Remove(state.LayersDone, out var scores))
            throw new InvalidOperationException($"FastV: no attention of layer {state.LayersDone - 1} was captured for the stage after layer " +
                                                $"{state.LayersDone}; the pruner must call Capture one layer before the stage");
        if (scores.Length != state.VisualTokenCount)
            throw new InvalidOperationException($"FastV: layer {state.LayersDone - 1} scored {scores.Length} visual tokens but the stage after " +
                                                $"layer {state.LayersDone} sees {state.VisualTokenCount}");
        return tensor(scores, ScalarType.Float32);
    }
}
