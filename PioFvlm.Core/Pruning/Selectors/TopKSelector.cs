using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Selectors;

/// <summary>Plain top-K by saliency (the reference's <c>enable_nms = False</c> ablation): the first K indices of the
/// stable (−score, index) order, returned ascending. Features are ignored.</summary>
public sealed class TopKSelector : ITokenSelector
{
    public long[] Select(Tensor features, Tensor scores, int keep)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(keep);
        long count = features.dim() == 2 ? features.shape[0]
            : throw new ArgumentException($"features must be [V, H], got [{string.Join(", ", features.shape)}]");
        var order = SaliencyOrder.Descending(SaliencyOrder.ReadScores(scores, count));
        var kept = order.Take(Math.Min(keep, order.Length)).Select(i => (long)i).ToArray();
        Array.Sort(kept);
        return kept;
    }
}
