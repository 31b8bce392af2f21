using PioFvlm.Core.Generation;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning;

/// <summary>
/// The sequence surgery of intra-LLM pruners: keep the text tokens and the chosen visual tokens of a prefill state.
/// Hidden rows, position ids (their original ids) and token ids are gathered; each visual span shrinks to its kept
/// count and shifts left by the tokens removed before it; spans left empty are dropped.
/// </summary>
public static class SequenceCut
{
    /// <summary>
    /// The state with only the text tokens and the kept visual tokens, <paramref name="kept"/> being local indices
    /// into <paramref name="pool"/> (<see cref="VisualTokens.Positions"/>); tensors moved to the caller's scope.
    /// </summary>
    public static PrefillState Keep(PrefillState state, long[] pool, long[] kept)
    {
        long length = state.Length;
        var keep = KeepMask(length, pool, kept);

        var rows = new List<long>((int)length);
        var tokenIds = new List<int>((int)length);
        for (long p = 0; p < length; p++)
        {
            if (!keep[p]) continue;
            rows.Add(p);
            tokenIds.Add(state.TokenIds[(int)p]);
        }

        var spans = ShrinkSpans(state.VisualSpans, keep);

        var index = tensor(rows.ToArray(), ScalarType.Int64, state.Hidden.device);
        var hidden = state.Hidden.index_select(1, index).MoveToOuterDisposeScope();
        var positions = state.PositionIds.index_select(1, index.to(state.PositionIds.device)).MoveToOuterDisposeScope();
        return state with { Hidden = hidden, PositionIds = positions, VisualSpans = spans, TokenIds = tokenIds };
    }

    /// <summary>Per position: true for text tokens and the kept visual tokens (local indices into the pool).</summary>
    public static bool[] KeepMask(long length, long[] pool, long[] kept)
    {
        var keep = new bool[length];
        Array.Fill(keep, true);
        foreach (long p in pool) keep[p] = false;
        foreach (long k in kept) keep[pool[k]] = true;
        return keep;
    }

    /// <summary>Each span shrinks to its kept count and shifts left by the tokens removed before it; empty spans go.</summary>
    public static List<VisualSpan> ShrinkSpans(IReadOnlyList<VisualSpan> spans, bool[] keep)
    {
        var result = new List<VisualSpan>();
        long removedBefore = 0;
        foreach (var span in spans)
        {
            long keptHere = 0;
            for (long p = span.Start; p < span.End; p++) if (keep[p]) keptHere++;
            if (keptHere > 0) result.Add(span with { Start = span.Start - removedBefore, Length = keptHere });
            removedBefore += span.Length - keptHere;
        }
        return result;
    }
}
