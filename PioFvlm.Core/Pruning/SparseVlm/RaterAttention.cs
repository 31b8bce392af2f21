using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning.Attention;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.SparseVlm;

/// <summary>
/// SparseVLM's use of the shared attention side computation (<see cref="AttentionRows"/>): the rater rows of one decoder
/// layer's causal attention probabilities, without the full L×L map (spec baselines §2.2).
/// </summary>
public static class RaterAttention
{
    /// <summary>
    /// Probabilities [heads, rows, S] of layer <paramref name="layerIndex"/> for query rows <paramref name="rows"/>
    /// (sequence indices), given its un-normed input <paramref name="hidden"/> [1, S, H] and position ids [R, S].
    /// Float32 (float64 for a float64 model); masked keys are exactly 0. A new tensor in the caller's scope.
    /// </summary>
    public static Tensor Probabilities(IDecoderStack decoder, int layerIndex, Tensor hidden, Tensor positionIds, long[] rows) =>
        AttentionRows.PerHead(decoder, layerIndex, hidden, positionIds, rows, keepComputePrecision: true);

    /// <summary>SparseVLM's visual scores (spec §5.4): the probabilities averaged over heads and rater rows, at the
    /// visual key positions <paramref name="visualPositions"/>. [V] in the caller's scope.</summary>
    public static Tensor VisualScores(IDecoderStack decoder, int layerIndex, Tensor hidden, Tensor positionIds, long[] raterRows, long[] visualPositions)
    {
        using var scope = NewDisposeScope();
        var p = Probabilities(decoder, layerIndex, hidden, positionIds, raterRows);
        var index = tensor(visualPositions, ScalarType.Int64, p.device);
        return p.mean([0L, 1L]).index_select(0, index).MoveToOuterDisposeScope();
    }
}
