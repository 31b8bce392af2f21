using PioFvlm.Core.Generation;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Attention;

/// <summary>
/// A scorer whose signal comes from the input of the layer BEFORE its stage (FastV reads layer K−1's attention, on
/// layer K−1's input, to prune before layer K). <see cref="ScoreThenSelectPruner"/> calls <see cref="Capture"/> with the
/// state entering layer AfterLayer−1 (LayersDone = AfterLayer−1, after any stage there has pruned; for AfterLayer = 1 from
/// <see cref="IPrefillPruner.Begin"/> on the embeddings), carries the signal in the prefill's state, and hands it to
/// <see cref="Score(PrefillState, float[])"/> at the stage itself. The scorer keeps nothing, so one instance may serve
/// several prefills at once.
/// </summary>
public interface IPriorLayerScorer : ISaliencyScorer
{
    /// <summary>Reads the signal for the stage after layer <c>state.LayersDone + 1</c> and returns it (one value per
    /// visual token of <paramref name="state"/>); must not modify the state.</summary>
    float[] Capture(PrefillState state, IDecoderStack decoder);

    /// <summary>Float32 scores [V] of the stage's visual tokens from what <see cref="Capture"/> returned one layer earlier.</summary>
    Tensor Score(PrefillState state, float[] captured);
}
