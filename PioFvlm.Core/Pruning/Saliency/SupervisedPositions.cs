namespace PioFvlm.Core.Pruning.Saliency;

/// <summary>The sequence positions whose logits enter the proxy loss (spec pio-fvlm.md §2.2).</summary>
public static class SupervisedPositions
{
    /// <summary>
    /// Sorted distinct positions of a sequence of <paramref name="length"/>: last − k for k &lt; size, clamped into
    /// [0, last], where last = S − 2 for <see cref="SupervisionWindow.Reference"/> (the shifted length minus one; 0 when
    /// S = 1, where the reference would index an empty tensor) and S − 1 for
    /// <see cref="SupervisionWindow.IncludeLastToken"/>. Clamping collapses duplicates for short sequences, as the
    /// reference's set does, so the loss mean is over the distinct positions.
    /// </summary>
    public static long[] For(long length, SupervisionWindow window, int size)
    {
        if (length < 1) throw new ArgumentException($"SupervisedPositions: sequence length must be at least 1, got {length}");
        if (size < 1) throw new ArgumentException($"SupervisedPositions: window size must be at least 1, got {size}");
        long last = window switch
        {
            SupervisionWindow.Reference => Math.Max(length - 2, 0),
            SupervisionWindow.IncludeLastToken => length - 1,
            _ => throw new ArgumentOutOfRangeException(nameof(window), window, "unknown supervision window"),
        };
        var positions = new SortedSet<long>();
        for (int k = 0; k < size; k++) positions.Add(Math.Clamp(last - k, 0, last));
        return positions.ToArray();
    }
}
