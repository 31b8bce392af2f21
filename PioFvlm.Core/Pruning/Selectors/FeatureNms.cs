using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Selectors;

/// <summary>
/// PIO-FVLM's saliency-ordered feature-space NMS (spec §3). Tokens are visited in (−score, index) order; features are
/// L2-normalised in float32 and two tokens are neighbours when their cosine is ≥ <see cref="Threshold"/>.
/// Pass 1 (strict NMS) keeps a visited token unless a kept token already suppressed it, then suppresses all of its
/// neighbours (itself included); suppression accumulates. Pass 2 fills the budget in saliency order ignoring
/// suppression, so exactly min(keep, V) tokens come back, sorted ascending.
/// </summary>
/// <remarks>
/// Only the similarity rows of tokens that pass 1 visits unsuppressed are computed, never the V × V matrix: the next
/// few unsuppressed candidates (at most as many as the budget still needs, at most <see cref="RowBlock"/>) get their
/// rows in one [B, H] × [H, V] product, thresholded on the device and copied to the CPU as booleans. A candidate that
/// a block-mate ahead of it suppresses is skipped exactly as the sequential loop would skip it; its row is wasted.
/// The rows are computed in bfloat16 (several times faster than float32 on CPUs with bf16 units) and every cosine
/// within <see cref="RecheckMargin"/> of the threshold is recomputed in float32, so the neighbour sets are the float32
/// ones: for unit vectors the bf16 error is at most about 2^-8 (inputs) + 2^-8 (output rounding), far below the margin.
/// </remarks>
public sealed class FeatureNms : ITokenSelector
{
    /// <summary>Cosines this close to the threshold in the bf16 rows are recomputed in float32.</summary>
    public const double RecheckMargin = 0.02;

    /// <summary>The reference's hard-coded cosine threshold.</summary>
    public const double DefaultThreshold = 0.8;

    /// <summary>Cosine similarity at or above which two tokens are neighbours.</summary>
    public double Threshold { get; }

    /// <summary>Most similarity rows computed per matrix product.</summary>
    public int RowBlock { get; }

    public FeatureNms(double threshold = DefaultThreshold, int rowBlock = 64)
    {
        if (double.IsNaN(threshold) || threshold < -1 || threshold > 1)
            throw new ArgumentOutOfRangeException(nameof(threshold), $"NMS cosine threshold {threshold} is outside [-1, 1]");
        ArgumentOutOfRangeException.ThrowIfLessThan(rowBlock, 1);
        Threshold = threshold;
        RowBlock = rowBlock;
    }

    public long[] Select(Tensor features, Tensor scores, int keep) => Select(features, scores, keep, out _);

    /// <summary>
    /// <see cref="Select(Tensor, Tensor, int)"/>, also giving the similarity rows it computed (selected plus wasted
    /// ones): a diagnostic for cost reports; a full-matrix NMS computes V rows. Returned, not kept, so one instance
    /// may select for several prefills at once.
    /// </summary>
    public long[] Select(Tensor features, Tensor scores, int keep, out int rowsComputed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(keep);
        if (features.dim() != 2)
            throw new ArgumentException($"features must be [V, H], got [{string.Join(", ", features.shape)}]");
        int count = checked((int)features.shape[0]);
        int budget = Math.Min(keep, count);
        var order = SaliencyOrder.Descending(SaliencyOrder.ReadScores(scores, count));
        var selected = new List<int>(budget);
        var isSelected = new bool[count];
        rowsComputed = budget > 0 ? StrictPass(features, order, budget, selected, isSelected) : 0;

        foreach (int i in order)                                   // pass 2: fill up in saliency order
        {
            if (selected.Count == budget) break;
            if (isSelected[i]) continue;
            isSelected[i] = true;
            selected.Add(i);
        }
        var kept = selected.Select(i => (long)i).ToArray();
        Array.Sort(kept);
        return kept;
    }

    /// <summary>Pass 1; returns the similarity rows computed.</summary>
    int StrictPass(Tensor features, int[] order, int budget, List<int> selected, bool[] isSelected)
    {
        int rowsComputed = 0;
        int count = order.Length;
        var suppressed = new bool[count];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var normalized = nn.functional.normalize(features.detach().to(ScalarType.Float32), p: 2, dim: 1);
        var fastT = normalized.to(ScalarType.BFloat16).t();
        var block = new List<long>(RowBlock);
        int cursor = 0;
        while (selected.Count < budget && cursor < count)
        {
            block.Clear();
            int want = Math.Min(budget - selected.Count, RowBlock);
            while (cursor < count && block.Count < want)
            {
                int i = order[cursor++];
                if (!suppressed[i]) block.Add(i);
            }
            if (block.Count == 0) break;
            using var rowScope = NewDisposeScope();
            var index = tensor(block.ToArray(), ScalarType.Int64, normalized.device);
            var rows = normalized.index_select(0, index);
            var approx = rows.to(ScalarType.BFloat16).matmul(fastT).to(ScalarType.Float32);
            var neighbours = approx.ge(Threshold);
            var unsure = (approx - Threshold).abs().lt(RecheckMargin).nonzero();   // [k, 2] (row in block, column)
            if (unsure.shape[0] > 0)
            {
                var r = unsure.select(1, 0);
                var c = unsure.select(1, 1);
                var exact = (rows.index_select(0, r) * normalized.index_select(0, c)).sum(1);
                neighbours = neighbours.index_put_(exact.ge(Threshold), r, c);
            }
            neighbours = neighbours.cpu().contiguous();
            var flags = neighbours.data<bool>().ToArray();
            rowsComputed += block.Count;
            for (int b = 0; b < block.Count; b++)
            {
                int i = (int)block[b];
                if (suppressed[i]) continue;                       // a block-mate ahead of it suppressed it
                selected.Add(i);
                isSelected[i] = true;
                if (selected.Count == budget) break;
                int row = b * count;
                for (int j = 0; j < count; j++)
                    if (flags[row + j]) suppressed[j] = true;
            }
        }
        return rowsComputed;
    }
}
