namespace PioFvlm.Core.Pruning.Dart;

/// <summary>What DART chose at its stage: pivots (sequence positions) and the kept visual tokens.</summary>
/// <param name="ImagePivots">Local indices (into the visual pool) of the image pivots, by descending key L1 norm.</param>
/// <param name="TextPivots">Sequence positions of the text pivots, by descending key L1 norm.</param>
/// <param name="Kept">Kept local indices, ascending (image pivots included).</param>
/// <param name="PerPivot">Per pivot, in iteration order (image pivots, then text pivots), the tokens it added.</param>
public sealed record DartSelection(long[] ImagePivots, long[] TextPivots, long[] Kept, IReadOnlyList<long[]> PerPivot)
{
    /// <summary>The pivots (spec §7.2): the top <paramref name="imagePivots"/> visual tokens (local indices) and the top
    /// <paramref name="textPivots"/> of <paramref name="textAfter"/> (sequence positions) by key L1 norm, descending;
    /// equal norms keep the lower index first (a stable order, where torch.topk leaves ties open).</summary>
    /// <param name="keyNorms">Key L1 norm at every sequence position.</param>
    /// <param name="pool">Sequence positions of the visual tokens (local index = rank).</param>
    /// <param name="textAfter">Sequence positions eligible as text pivots (the text after the image).</param>
    public static (long[] Image, long[] Text) Pivots(IReadOnlyList<double> keyNorms, long[] pool, long[] textAfter, int imagePivots, int textPivots)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(imagePivots);
        ArgumentOutOfRangeException.ThrowIfNegative(textPivots);
        long[] image = Enumerable.Range(0, pool.Length).OrderByDescending(i => keyNorms[(int)pool[i]])
            .Take(imagePivots).Select(i => (long)i).ToArray();
        long[] text = textAfter.OrderByDescending(p => keyNorms[(int)p]).Take(textPivots).ToArray();
        return (image, text);
    }

    /// <summary>
    /// The duplication-aware picks (spec §7.3): for each pivot in turn (image pivots, then text pivots, in the given
    /// order) the <paramref name="perPivot"/> remaining candidates least cosine-similar to it (ties: lower index first),
    /// removed from the candidates before the next pivot. Image pivots are kept and are never candidates.
    /// </summary>
    /// <param name="poolCount">V, the visual tokens.</param>
    /// <param name="cosine">cosine(pivot number in iteration order, candidate local index).</param>
    public static DartSelection Choose(int poolCount, long[] imagePivots, long[] textPivots, Func<int, long, double> cosine, int perPivot)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(perPivot);
        var candidates = new SortedSet<long>(Enumerable.Range(0, poolCount).Select(i => (long)i));
        candidates.ExceptWith(imagePivots);
        var kept = new List<long>(imagePivots);
        var perPivotPicks = new List<long[]>();
        for (int pivot = 0; pivot < imagePivots.Length + textPivots.Length; pivot++)
        {
            int p = pivot;
            var picks = candidates.OrderBy(j => cosine(p, j)).Take(perPivot).ToArray();
            candidates.ExceptWith(picks);
            kept.AddRange(picks);
            perPivotPicks.Add(picks);
        }
        var sorted = kept.ToArray();
        Array.Sort(sorted);
        return new DartSelection(imagePivots, textPivots, sorted, perPivotPicks);
    }
}
