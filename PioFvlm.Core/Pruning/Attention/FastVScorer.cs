using PioFvlm.Core.Generation;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Attention;

/// <summary>
/// FastV (spec baselines §3): for the stage after layer K, the head-mean attention that the last prompt token pays to
/// each visual token inside layer K−1, computed on layer K−1's own input (captured one layer earlier; see
/// <see cref="IPriorLayerScorer"/>). Pair it with <see cref="Selectors.TopKSelector"/>: keep the top budget, original
/// order. The captured scores are a plain array, so nothing native outlives the prefill; the scorer holds no state.
/// </summary>
public sealed class FastVScorer : IPriorLayerScorer
{
    public float[] Capture(PrefillState state, IDecoderStack decoder)
    {
        using var scope = NewDisposeScope();
        var scores = AttentionRows.LastTokenToVisual(decoder, state.LayersDone, state);
        return scores.cpu().data<float>().ToArray();
    }

    public Tensor Score(PrefillState state, float[] captured)
    {
        if (captured.Length != state.VisualTokenCount)
            throw new InvalidOperationException($"FastV: layer {state.LayersDone - 1} scored {captured.Length} visual tokens but the stage after " +
                                                $"layer {state.LayersDone} sees {state.VisualTokenCount}");
        return tensor(captured, ScalarType.Float32);
    }

    /// <summary>Always throws: the signal is layer K−1's attention, gone by the stage after layer K. Run FastV inside a
    /// <see cref="ScoreThenSelectPruner"/>, which captures it one layer earlier.</summary>
    public Tensor Score(PrefillState state, IDecoderStack decoder) =>
        throw new InvalidOperationException($"FastV: no attention of layer {state.LayersDone - 1} was captured for the stage after layer " +
                                            $"{state.LayersDone}; FastV scores come from the layer before the stage, so it must run inside a " +
                                            "ScoreThenSelectPruner, which captures them one layer earlier");
}
