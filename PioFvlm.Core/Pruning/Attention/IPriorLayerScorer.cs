using PioFvlm.Core.Generation;

namespace PioFvlm.Core.Pruning.Attention;

/// <summary>
/// A scorer whose signal comes from the input of the layer BEFORE its stage (FastV reads layer K−1's attention, on
/// layer K−1's input, to prune before layer K). <see cref="ScoreThenSelectPruner"/> calls <see cref="Capture"/> with the
/// state entering layer AfterLayer−1 (LayersDone = AfterLayer−1, after any stage there has pruned; for AfterLayer = 1 from
/// <see cref="IPrefillPruner.Begin"/> on the embeddings), then
/// <see cref="ISaliencyScorer.Score"/> at the stage itself.
/// </summary>
public interface IPriorLayerScorer : ISaliencyScorer
{
    /// <summary>Reads and keeps the signal for the stage after layer <c>state.LayersDone + 1</c>; must not modify the state.</summary>
    void Capture(PrefillState state, IDecoderStack decoder);
}
