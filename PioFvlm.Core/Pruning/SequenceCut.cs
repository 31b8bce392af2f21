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
        var keep = new bool[length];
        Array.Fill(keep, true);
        foreach (long p in pool) keep[p] = false;
        foreach (long k in kept) keep[pool[k]] = true;

        var rows = new List<long>((int)length);
        var tokenIds = new List<int>((int)length);
        for (long p = 0; p < length; p++)
        {
            if (!keep[p]) continue;
            rows.Add(p);
            tokenIds.Add(state.TokenIds[(int)p]);
        }

        var spans = new List<VisualSpan>();
        long removedBefore = 0;
        foreach (var span in state.VisualSpans)
        {
            long keptHere = 0;
            for (long p = span.Start; p < span.End; p++) if (keep[p]) keptHere++;
            if (keptHere > 0) spans.Add(span with { Start = span.Start - removedBefore, Length = keptHere });
            removedBefore += span.Length - keptHere;
        }

        var index = tensor(rows.ToArray(), ScalarType.Int64, state.Hidden.device);
        var hidden = state.Hidden.index_select(1, index).MoveToOuterDisposeScope();
        var positions = state.PositionIds.index_select(1, index.to(state.PositionIds.device)).MoveToOuterDisposeScope();
        return state with { Hidden = hidden, PositionIds = positions, VisualSpans = spans, TokenIds = tokenIds };
    }
}
