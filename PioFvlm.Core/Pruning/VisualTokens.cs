using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning;

/// <summary>The visual tokens of a prefill state as one pool: every span, in sequence order.</summary>
public static class VisualTokens
{
    /// <summary>Sequence positions of all visual tokens; local index i of the pool is position Positions[i]. Throws on
    /// spans that overlap, are out of order or leave the sequence.</summary>
    public static long[] Positions(PrefillState state)
    {
        long length = state.Length, previousEnd = 0;
        var positions = new List<long>();
        foreach (var span in state.VisualSpans)
        {
            if (span.Start < previousEnd || span.Length < 0 || span.End > length)
                throw new ArgumentException($"visual span [{span.Start}, {span.End}) of image {span.ImageIndex} overlaps the previous span, " +
                                            $"is out of order or lies outside the {length}-position sequence");
            for (long p = span.Start; p < span.End; p++) positions.Add(p);
            previousEnd = span.End;
        }
        return positions.ToArray();
    }

    /// <summary>Hidden rows [V, H] of the visual tokens (a new tensor in the caller's scope, the state's dtype).</summary>
    public static Tensor Features(PrefillState state) => Features(state, Positions(state));

    /// <summary>Hidden rows [V, H] at <paramref name="positions"/>.</summary>
    public static Tensor Features(PrefillState state, long[] positions)
    {
        using var scope = NewDisposeScope();
        var index = tensor(positions, ScalarType.Int64, state.Hidden.device);
        return state.Hidden[0].index_select(0, index).MoveToOuterDisposeScope();
    }
}
