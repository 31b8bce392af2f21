using System.Diagnostics;
using PioFvlm.Core.Generation;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.SparseVlm;

/// <summary>
/// SparseVLM v1.5 (spec baselines §5) as an intra-LLM pruner. Text raters are chosen once from the decoder input
/// (<see cref="SparseVlmRaters"/>); at each pruning layer l = AfterLayer − 1 the rater rows of layer l's own attention
/// (<see cref="RaterAttention"/>, from its input: no full attention map) score the visual tokens; layer l runs on its
/// full input and its output keeps the top min(k, V − 1) visual tokens in their original order, followed by the
/// recycled tokens (<see cref="TokenRecycling"/>) right after the last kept one. Text tokens always stay.
/// </summary>
/// <remarks>
/// <para>The engine calls pruners only between layers, so the pruner asks to be called twice per stage: after l layers
/// (the input of layer l: it computes and keeps the scores, passing the state through) and after l + 1 (it cuts).
/// A pruning layer 0 is scored in <see cref="Begin"/>.</para>
/// <para>Positions: the reference renumbers (<see cref="PositionPolicy.Compact"/>, its default in the plan). Recycled
/// tokens carry the original position id of their cluster center, which only matters under KeepOriginal.</para>
/// <para>Budgets: <see cref="PruningStage.Budget"/> of the current count and of the count entering the LLM; recycled
/// tokens count as visual tokens at later stages, where they can be pruned or merged again.</para>
/// <para>Per-prefill data (the raters, the scores read a layer early) travels in <see cref="PrefillState.Scratch"/> and
/// every stage appends a <see cref="SparseVlmStageReport"/> to <see cref="PrefillState.Stages"/>: the pruner holds only
/// its configuration, so one instance may prune several prefills at once.</para>
/// </remarks>
public sealed class SparseVlmPruner : IPrefillPruner
{
    /// <summary>One prefill's scratch, from <see cref="Begin"/> on.</summary>
    /// <param name="RaterOffsets">Raters as distances from the sequence end: the text after the image is never cut.</param>
    /// <param name="RaterPositions">The raters' sequence indices in the decoder input (for the reports).</param>
    /// <param name="VisualAtStart">Visual tokens entering the LLM (the base of ratio budgets).</param>
    /// <param name="Pending">Scores read one layer before a stage, until that stage cuts.</param>
    sealed record Scratch(long[] RaterOffsets, long[] RaterPositions, int VisualAtStart, Pending? Pending);

    sealed record Pending(int AfterLayer, double[]? Scores, double Ms);

    public PruningSchedule Schedule { get; }

    /// <summary>Token recycling (v1/v1.5); false gives plain top-k pruning (v2.0 drops merging).</summary>
    public bool Recycle { get; }

    public SparseVlmPruner(PruningSchedule schedule, bool recycle = true)
    {
        Schedule = schedule ?? throw new ArgumentNullException(nameof(schedule));
        schedule.ValidateShape();
        Recycle = recycle;
    }

    public void Validate(int layerCount) => Schedule.Validate(layerCount);

    /// <summary>Chooses the raters from the embeddings (and scores a stage after layer 1) into the state's scratch.</summary>
    public PrefillState Begin(PrefillState input, IDecoderStack decoder)
    {
        long[] pool = VisualTokens.Positions(input);
        long length = input.Length;
        long[] offsets = [];
        if (pool.Length > 0 && pool[^1] + 1 < length)
        {
            using var scope = NewDisposeScope();
            long textStart = pool[^1] + 1;
            var text = input.Hidden[0].narrow(0, textStart, length - textStart);
            long[] raters = SparseVlmRaters.Select(VisualTokens.Features(input, pool), text);
            offsets = raters.Select(t => length - (textStart + t)).ToArray();
        }
        var scratch = new Scratch(offsets, offsets.Select(o => length - o).ToArray(), checked((int)input.VisualTokenCount), null);
        var begun = input with { Scratch = scratch };
        return StageAt(1) is { } first ? Capture(begun, scratch, decoder, first) : begun;
    }

    public bool PrunesAfter(int layersDone) => Schedule.Stages.Any(s => s.AfterLayer == layersDone || s.AfterLayer - 1 == layersDone);

    public PrefillState Prune(PrefillState state, IDecoderStack decoder)
    {
        if (state.Scratch is not Scratch)
            throw new InvalidOperationException("SparseVlmPruner: Begin was not called for this prefill (DecoderRunner.Prefill calls it before layer 0)");
        var cut = StageAt(state.LayersDone);
        var next = StageAt(state.LayersDone + 1);
        if (cut is null && next is null)
            throw new InvalidOperationException($"SparseVLM schedule '{Schedule.Name}' has nothing to do after layer {state.LayersDone}");
        var result = cut is null ? state : Cut(state, cut);
        return next is null ? result : Capture(result, (Scratch)result.Scratch!, decoder, next);
    }

    PruningStage? StageAt(int afterLayer) => Schedule.Stages.FirstOrDefault(s => s.AfterLayer == afterLayer);

    /// <summary>Scores the visual tokens with the attention of layer AfterLayer − 1, whose input <paramref name="state"/>
    /// is, into the scratch the returned state carries.</summary>
    static PrefillState Capture(PrefillState state, Scratch scratch, IDecoderStack decoder, PruningStage stage)
    {
        var clock = Stopwatch.StartNew();
        long[] pool = VisualTokens.Positions(state);
        double[]? scores = null;
        if (pool.Length > 1 && scratch.RaterOffsets.Length > 0)
        {
            using var scope = NewDisposeScope();
            long[] rows = scratch.RaterOffsets.Select(o => state.Length - o).ToArray();
            var s = RaterAttention.VisualScores(decoder, stage.AfterLayer - 1, state.Hidden, state.PositionIds, rows, pool);
            scores = s.to(ScalarType.Float64).cpu().data<double>().ToArray();
        }
        return state with { Scratch = scratch with { Pending = new Pending(stage.AfterLayer, scores, clock.Elapsed.TotalMilliseconds) } };
    }

    PrefillState Cut(PrefillState state, PruningStage stage)
    {
        var scratch = (Scratch)state.Scratch!;
        var pending = scratch.Pending is { } p && p.AfterLayer == stage.AfterLayer ? p
            : throw new InvalidOperationException($"SparseVLM stage after layer {stage.AfterLayer}: the attention of layer {stage.AfterLayer - 1} was not scored " +
                                                  $"(the pruner must also run after {stage.AfterLayer - 1} layers, or in Begin for layer 0)");
        state = state with { Scratch = scratch with { Pending = null } };
        long[] pool = VisualTokens.Positions(state);
        int current = pool.Length;
        if (pending.Scores is null || current <= 1)
            return state.WithStage(new SparseVlmStageReport
            {
                Layer = stage.AfterLayer - 1, AfterLayer = stage.AfterLayer, VisualBefore = current, VisualAfter = current, Pruned = false,
                Recycled = 0, RaterPositions = scratch.RaterPositions, KeptLocalIndices = PruningStageReport.AllOf(current), ScoreMs = pending.Ms,
            });
        if (pending.Scores.Length != current)
            throw new InvalidOperationException($"SparseVLM stage after layer {stage.AfterLayer}: {pending.Scores.Length} scores for {current} visual tokens");

        var clock = Stopwatch.StartNew();
        int keep = Math.Min(stage.Budget(current, scratch.VisualAtStart), current - 1);
        var scores = pending.Scores;
        int[] order = Enumerable.Range(0, current).OrderByDescending(i => scores[i]).ThenBy(i => i).ToArray();
        long[] kept = order.Take(keep).Order().Select(i => (long)i).ToArray();
        int[] dropped = order.Skip(keep).ToArray();                                   // by score, descending

        using var scope = NewDisposeScope();
        Tensor? merged = null;
        long[] recycledPositions = [];
        IReadOnlyList<IReadOnlyList<long>> members = [];
        if (Recycle)
        {
            int candidates = TokenRecycling.CandidateCount(dropped.Length);
            long[] candidatePositions = dropped.Take(candidates).Select(i => pool[i]).ToArray();
            var recycled = TokenRecycling.Cluster(VisualTokens.Features(state, candidatePositions), TokenRecycling.ClusterCount(candidates));
            merged = recycled.Merged;
            recycledPositions = recycled.Centers.Select(c => candidatePositions[c]).ToArray();
            long[] candidateLocal = dropped.Take(candidates).Select(i => (long)i).ToArray();
            members = recycled.Members.Select(m => (IReadOnlyList<long>)m.Select(i => candidateLocal[i]).Order().ToArray()).ToArray();
        }
        var result = Surgery(state, pool, kept, merged, recycledPositions);
        return result.WithStage(new SparseVlmStageReport
        {
            Layer = stage.AfterLayer - 1, AfterLayer = stage.AfterLayer, VisualBefore = current, VisualAfter = kept.Length + recycledPositions.Length,
            Pruned = true, KeptLocalIndices = kept, Recycled = recycledPositions.Length, RecycledMembers = members,
            RaterPositions = scratch.RaterPositions, ScoreMs = pending.Ms, SurgeryMs = clock.Elapsed.TotalMilliseconds,
        });
    }

    /// <summary>
    /// Text tokens and kept visual tokens in sequence order, with the <paramref name="merged"/> rows inserted right after
    /// the last kept visual token (where the first visual token was when none is kept). Recycled rows take the position
    /// id at <paramref name="recycledFrom"/> and the image token id; they extend the span of the last kept token.
    /// Tensors move to the caller's scope.
    /// </summary>
    static PrefillState Surgery(PrefillState state, long[] pool, long[] kept, Tensor? merged, long[] recycledFrom)
    {
        long length = state.Length;
        var keepRow = SequenceCut.KeepMask(length, state.VisualSpans, pool, kept);
        var rows = new List<long>((int)length);
        for (long p = 0; p < length; p++) if (keepRow[p]) rows.Add(p);
        long anchor = kept.Length > 0 ? pool[kept[^1]] + 1 : pool[0];
        int insertAt = rows.Count(r => r < anchor);
        int recycled = recycledFrom.Length;

        var spans = SequenceCut.ShrinkSpans(state.VisualSpans, keepRow);
        if (recycled > 0)
        {
            if (spans.Count > 0) spans[^1] = spans[^1] with { Length = spans[^1].Length + recycled };
            else spans.Add(new VisualSpan(insertAt, recycled, state.VisualSpans[0].ImageIndex));
        }

        int imageToken = state.TokenIds[(int)pool[0]];
        var tokenIds = rows.Select(r => state.TokenIds[(int)r]).ToList();
        tokenIds.InsertRange(insertAt, Enumerable.Repeat(imageToken, recycled));

        var device = state.Hidden.device;
        Tensor Rows(Tensor t, IEnumerable<long> at, int dim) => t.index_select(dim, tensor(at.ToArray(), ScalarType.Int64, t.device));
        var before = rows.Take(insertAt).ToArray();
        var after = rows.Skip(insertAt).ToArray();
        var hiddenParts = new List<Tensor> { Rows(state.Hidden, before, 1) };
        var positionParts = new List<Tensor> { Rows(state.PositionIds, before, 1) };
        if (recycled > 0)
        {
            hiddenParts.Add(merged!.to(state.Hidden.dtype, device).unsqueeze(0));
            positionParts.Add(Rows(state.PositionIds, recycledFrom, 1));
        }
        hiddenParts.Add(Rows(state.Hidden, after, 1));
        positionParts.Add(Rows(state.PositionIds, after, 1));
        var hidden = cat(hiddenParts, 1).MoveToOuterDisposeScope();
        var positions = cat(positionParts, 1).MoveToOuterDisposeScope();
        return state with { Hidden = hidden, PositionIds = positions, VisualSpans = spans, TokenIds = tokenIds };
    }
}
