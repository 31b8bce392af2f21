using PioFvlm.Core.Generation;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning;

/// <summary>
/// The sequence surgery of intra-LLM pruners: keep the text tokens and the chosen visual tokens of a prefill state.
/// Hidden rows, position ids (their original ids) and token ids are gathered; each visual span shrinks to its kept
/// count and shifts left by the positions removed before it; spans left empty are dropped. An anyres row's
/// image_newline (the position after a span whose <see cref="AnyresOrigin.NewlineAfter"/> is set) is not a visual
/// token: it stays while any token of its row stays, and goes with the row when all of them are pruned, so no newline
/// is left without its row.
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
        var keep = KeepMask(length, state.VisualSpans, pool, kept);

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

    /// <summary>Per position: true for text tokens and the kept visual tokens (local indices into the pool); spans
    /// without anyres rows (LLaVA-1.5, Qwen) need nothing else.</summary>
    public static bool[] KeepMask(long length, long[] pool, long[] kept) => KeepMask(length, [], pool, kept);

    /// <summary>Per position: true for text tokens, the kept visual tokens, and the image_newline of every anyres row
    /// that keeps at least one token (the newline of a fully pruned row goes with it).</summary>
    public static bool[] KeepMask(long length, IReadOnlyList<VisualSpan> spans, long[] pool, long[] kept)
    {
        var keep = new bool[length];
        Array.Fill(keep, true);
        foreach (long p in pool) keep[p] = false;
        foreach (long k in kept) keep[pool[k]] = true;
        DropOrphanNewlines(spans, keep);
        return keep;
    }

    /// <summary>Clears the newline after each anyres row none of whose tokens is kept.</summary>
    static void DropOrphanNewlines(IReadOnlyList<VisualSpan> spans, bool[] keep)
    {
        bool rowKeepsAny = false;
        foreach (var span in spans)
        {
            if (span.Origin is not { MapRow: >= 0 } origin) { rowKeepsAny = false; continue; }
            for (long p = span.Start; p < span.End && !rowKeepsAny; p++) rowKeepsAny = keep[p];
            if (!origin.NewlineAfter) continue;
            if (span.End >= keep.Length)
                throw new ArgumentException($"visual span [{span.Start}, {span.End}) of image {span.ImageIndex} says an image_newline follows it, but the sequence ends there");
            if (!rowKeepsAny) keep[span.End] = false;
            rowKeepsAny = false;
        }
    }

    /// <summary>Each span shrinks to its kept count and shifts left by the positions removed before it; empty spans go.
    /// When the span an image_newline follows empties while its row keeps tokens in an earlier span, that span takes
    /// over <see cref="AnyresOrigin.NewlineAfter"/> (the newline now follows it), so a later cut still finds the row's newline.</summary>
    public static List<VisualSpan> ShrinkSpans(IReadOnlyList<VisualSpan> spans, bool[] keep)
    {
        var keptBefore = new long[keep.Length + 1];
        for (int p = 0; p < keep.Length; p++) keptBefore[p + 1] = keptBefore[p] + (keep[p] ? 1 : 0);
        var result = new List<VisualSpan>();
        foreach (var span in spans)
        {
            long keptHere = keptBefore[span.End] - keptBefore[span.Start];
            if (keptHere > 0)
                result.Add(span with { Start = keptBefore[span.Start], Length = keptHere });
            else if (span.Origin is { NewlineAfter: true } origin && result.Count > 0 && result[^1] is var previous &&
                     previous.ImageIndex == span.ImageIndex && previous.Origin is { } before && before.MapRow == origin.MapRow)
                result[^1] = previous with { Origin = before with { NewlineAfter = true } };
        }
        return result;
    }
}
