using System.Diagnostics;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning.Attention;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning;

/// <summary>
/// The intra-LLM pruner: at every stage of a <see cref="PruningSchedule"/>, score the visual tokens, select a budget of
/// them, and cut the sequence down to the text tokens plus the kept visual tokens. PIO-FVLM is
/// <c>new ScoreThenSelectPruner(gradientSaliency, new FeatureNms(0.8), schedule)</c>.
/// </summary>
/// <remarks>
/// <para>Budgets follow the reference: <see cref="PruningStage.Budget"/> of the current count and of the count at the
/// first stage of the prefill (= the count entering the LLM). A budget at or above the current count, or a sequence
/// without visual tokens, prunes nothing and returns the same state object; a budget of 0 removes every visual token.</para>
/// <para>Several visual spans (images, tiles) form one pool: scores, selection and budget cover all visual tokens in
/// sequence order (local index = rank in that order), so an image may lose more tokens than another. Each span
/// shrinks to its kept count and shifts left by the tokens removed before it; spans left empty are dropped.</para>
/// <para>Scores containing NaN or ±inf, or all zero (e.g. an underflowed gradient), are not used: the stage falls back
/// to the features' L2 norm (descending) as scores, still passes them through the selector, and says so in its
/// <see cref="PruningStageReport"/>.</para>
/// <para>Position ids of kept tokens are gathered (their original ids); <see cref="DecoderRunner"/> re-indexes them
/// under <see cref="PositionPolicy.Compact"/>. A stage whose scorer is an <see cref="IPriorLayerScorer"/> (FastV) also
/// makes the pruner stop one layer earlier (or, for a stage after layer 1, use <see cref="Begin"/>), where the scorer
/// captures its signal; the signal travels in the state's <see cref="PrefillState.Scratch"/> to the stage, the
/// tensors pass unchanged.</para>
/// <para>Each stage appends its <see cref="PruningStageReport"/> to <see cref="PrefillState.Stages"/>; the pruner keeps
/// nothing between calls, so one instance may prune several prefills at once.</para>
/// </remarks>
public sealed class ScoreThenSelectPruner : IPrefillPruner
{
    /// <summary>The scratch between a prior-layer scorer's capture and its stage: the signal for the stage after
    /// <paramref name="ForStage"/> layers.</summary>
    sealed record Captured(int ForStage, float[] Signal);

    public ISaliencyScorer Scorer { get; }
    public ITokenSelector Selector { get; }
    public PruningSchedule Schedule { get; }

    /// <summary>Per-stage methods keyed by AfterLayer, overriding <see cref="Scorer"/>/<see cref="Selector"/> there.</summary>
    public IReadOnlyDictionary<int, (ISaliencyScorer Scorer, ITokenSelector Selector)> StageMethods { get; }

    public ScoreThenSelectPruner(ISaliencyScorer scorer, ITokenSelector selector, PruningSchedule schedule,
                                 IReadOnlyDictionary<int, (ISaliencyScorer Scorer, ITokenSelector Selector)>? stageMethods = null)
    {
        Scorer = scorer ?? throw new ArgumentNullException(nameof(scorer));
        Selector = selector ?? throw new ArgumentNullException(nameof(selector));
        Schedule = schedule ?? throw new ArgumentNullException(nameof(schedule));
        StageMethods = stageMethods ?? new Dictionary<int, (ISaliencyScorer, ITokenSelector)>();
        foreach (int layer in StageMethods.Keys)
            if (schedule.Stages.All(s => s.AfterLayer != layer))
                throw new ArgumentException($"pruning schedule '{schedule.Name}' has no stage after layer {layer} to give a method to");
        schedule.ValidateShape();
    }

    /// <inheritdoc />
    public void Validate(int layerCount) => Schedule.Validate(layerCount);

    public bool PrunesAfter(int layersDone) => StageIndex(layersDone) >= 0 || (layersDone > 0 && CaptureFor(layersDone) != null);

    /// <summary>A stage after layer 1 whose scorer reads layer 0's input captures it here, from the embeddings.</summary>
    public PrefillState Begin(PrefillState input, IDecoderStack decoder) => WithCapture(input, decoder);

    public PrefillState Prune(PrefillState state, IDecoderStack decoder)
    {
        if (StageIndex(state.LayersDone) >= 0) state = PruneStage(state, decoder);
        return WithCapture(state, decoder);
    }

    /// <summary><paramref name="state"/> carrying the signal of the next layer's prior-layer scorer, if it has one.</summary>
    PrefillState WithCapture(PrefillState state, IDecoderStack decoder) => CaptureFor(state.LayersDone) is { } prior
        ? state with { Scratch = new Captured(state.LayersDone + 1, prior.Capture(state, decoder)) }
        : state;

    /// <summary>Scores of the stage after <c>state.LayersDone</c> layers: a prior-layer scorer's from its capture.</summary>
    static Tensor Score(ISaliencyScorer scorer, PrefillState state, IDecoderStack decoder)
    {
        if (scorer is not IPriorLayerScorer prior) return scorer.Score(state, decoder);
        if (state.Scratch is not Captured captured || captured.ForStage != state.LayersDone)
            throw new InvalidOperationException($"{scorer.GetType().Name}: no signal of layer {state.LayersDone - 1} was captured for the stage after layer " +
                                                $"{state.LayersDone}; the pruner must run one layer before the stage (Begin for a stage after layer 1)");
        return prior.Score(state, captured.Signal);
    }

    /// <summary>The prior-layer scorer of the stage after layer <paramref name="layersDone"/> + 1, if any.</summary>
    IPriorLayerScorer? CaptureFor(int layersDone)
    {
        int stage = StageIndex(layersDone + 1);
        if (stage < 0) return null;
        var scorer = StageMethods.TryGetValue(layersDone + 1, out var m) ? m.Scorer : Scorer;
        return scorer as IPriorLayerScorer;
    }

    PrefillState PruneStage(PrefillState state, IDecoderStack decoder)
    {
        int stageIndex = StageIndex(state.LayersDone);
        if (stageIndex < 0)
            throw new InvalidOperationException($"pruning schedule '{Schedule.Name}' has no stage after layer {state.LayersDone}");
        var stage = Schedule.Stages[stageIndex];
        if (state.Stages.Count == 0) Schedule.Validate(decoder.LayerCount);
        long[] pool = VisualTokens.Positions(state);
        int current = pool.Length;
        // The count at the first stage of this prefill is what that stage's report saw coming in.
        long visualAtFirstStage = state.Stages.Count > 0 ? state.Stages[0].VisualBefore : current;
        var consumed = state.Scratch is Captured ? state with { Scratch = null } : state;
        int budget = current == 0 ? 0 : stage.Budget(current, checked((int)visualAtFirstStage));
        if (current == 0 || budget >= current)
            return consumed.WithStage(PruningStageReport.PassThrough(stage.AfterLayer, current));

        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        long[] kept = [];
        double scoreMs = 0, selectMs = 0;
        string? warning = null;
        if (budget > 0)
        {
            var (scorer, selector) = StageMethods.TryGetValue(stage.AfterLayer, out var m) ? m : (Scorer, Selector);
            var features = VisualTokens.Features(state, pool);
            var scores = Score(scorer, state, decoder);
            scoreMs = clock.Elapsed.TotalMilliseconds;
            warning = Unusable(scores, current);
            if (warning != null) scores = FallbackScores(features, stage);
            kept = selector.Select(features, scores, budget);
            CheckSelection(kept, budget, current, stage, selector);
            selectMs = clock.Elapsed.TotalMilliseconds - scoreMs;
        }
        var pruned = SequenceCut.Keep(consumed, pool, kept);
        double surgeryMs = clock.Elapsed.TotalMilliseconds - scoreMs - selectMs;
        return pruned.WithStage(new PruningStageReport
        {
            AfterLayer = stage.AfterLayer, VisualBefore = current, VisualAfter = kept.Length, Pruned = true,
            KeptLocalIndices = kept, ScoreMs = scoreMs, SelectMs = selectMs, SurgeryMs = surgeryMs,
            FallbackUsed = warning != null, Warning = warning,
        });
    }

    int StageIndex(int layersDone)
    {
        var stages = Schedule.Stages;
        for (int s = 0; s < stages.Count; s++)
            if (stages[s].AfterLayer == layersDone) return s;
        return -1;
    }

    /// <summary>Why <paramref name="scores"/> cannot be used, or null when they can.</summary>
    static string? Unusable(Tensor scores, int count)
    {
        if (scores.dim() != 1 || scores.shape[0] != count)
            throw new InvalidOperationException($"the saliency scorer returned [{string.Join(", ", scores.shape)}] scores for {count} visual tokens");
        using var scope = NewDisposeScope();
        var values = scores.detach().to(ScalarType.Float32, CPU);
        long bad = count - values.isfinite().sum().item<long>();
        if (bad > 0) return $"{bad} of {count} saliency scores are NaN or infinite; fell back to the feature L2 norm";
        if (values.count_nonzero().item<long>() == 0) return $"all {count} saliency scores are zero; fell back to the feature L2 norm";
        return null;
    }

    static Tensor FallbackScores(Tensor features, PruningStage stage)
    {
        var norms = features.to(ScalarType.Float32).norm(1);
        if (!norms.isfinite().all().item<bool>())
            throw new InvalidOperationException($"pruning after layer {stage.AfterLayer}: the saliency scores are unusable and the visual " +
                                                "hidden states themselves hold NaN or infinite values; nothing sensible can be selected");
        return norms;
    }

    static void CheckSelection(long[] kept, int budget, int count, PruningStage stage, ITokenSelector selector)
    {
        bool ascending = true;
        for (int i = 1; i < kept.Length; i++) ascending &= kept[i] > kept[i - 1];
        if (kept.Length != budget || !ascending || (kept.Length > 0 && (kept[0] < 0 || kept[^1] >= count)))
            throw new InvalidOperationException($"selector {selector.GetType().Name} after layer {stage.AfterLayer} returned {kept.Length} indices " +
                                                $"for a budget of {budget} out of {count}; they must be exactly {budget} distinct ascending indices in [0, {count})");
    }
}
