using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Core.Pruning.Selectors;
using PioFvlm.Models.Text.Llama;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

public sealed class ScoreThenSelectPrunerTests
{
    static readonly int[] OneImage = [3, 12, 5];                     // 3 text, 12 visual, 5 text: S = 20

    static ScoreThenSelectPruner Pio(PruningSchedule schedule, double tau = 0.5) =>
        new(new RandomScorer(5), new FeatureNms(tau), schedule);

    /// <summary>Prefill logits and <paramref name="steps"/> greedy decode logits.</summary>
    static List<Tensor> PrefillAndDecode(LlamaForCausalLM lm, MultimodalSequence seq, KvCache cache, IPrefillPruner? pruner,
                                         PositionPolicy policy, int steps, List<int>? tokens = null, List<PruningStageReport>? stages = null)
    {
        using var prefill = DecoderRunner.Prefill(lm, seq, cache, pruner, policy);
        stages?.AddRange(prefill.Stages);
        var logits = new List<Tensor> { prefill.LastLogits.clone() };
        for (int t = 0; t < steps; t++)
        {
            int next = (int)logits[^1].argmax().item<long>();
            tokens?.Add(next);
            logits.Add(DecoderRunner.Step(lm, next, prefill.DecodeState, cache));
        }
        return logits;
    }

    [TestCase(100)]
    [TestCase(12)]
    public void KeepAtOrAboveCount_IsBitIdenticalToNoPruner(int keep)
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        using var lm = PruningTestKit.Model(ScalarType.Float32);
        using var seq = PruningTestKit.Prompt(lm, OneImage);
        var pruner = Pio(PruningTestKit.Schedule((1, keep), (3, keep)));
        using var cacheA = PruningTestKit.Cache(lm, ScalarType.Float32);
        using var cacheB = PruningTestKit.Cache(lm, ScalarType.Float32);
        var stages = new List<PruningStageReport>();
        var pruned = PrefillAndDecode(lm, seq, cacheA, pruner, PositionPolicy.Compact, 4, stages: stages);
        var plain = PrefillAndDecode(lm, seq, cacheB, null, PositionPolicy.Compact, 4);
        for (int i = 0; i < pruned.Count; i++)
            TensorAssert.Equal(pruned[i], plain[i], i == 0 ? "prefill logits" : $"decode step {i}");
        Assert.That(stages.Select(r => (r.AfterLayer, r.Pruned, r.VisualAfter)), Is.EqualTo(new[] { (1, false, 12L), (3, false, 12L) }));
    }

    [Test]
    public void NothingToPrune_KeepsTheTensorsAndReportsAPassThrough()
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        using var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, OneImage);
        using var text = PruningTestKit.Prompt(lm, [6]);
        var keepAll = Pio(new PruningSchedule { Name = "ratio 1", Stages = [new PruningStage { AfterLayer = 2, Ratio = 1.0 }] });
        var state = new PrefillState(seq.Embeddings, seq.PositionIds, seq.VisualSpans, seq.TokenIds, 2);
        var kept = keepAll.Prune(state, lm);
        Assert.That(SameParts(kept, state), "ratio 1.0: the same tensors, spans and ids");
        Assert.That(kept.Stages.Select(r => (r.AfterLayer, r.VisualBefore, r.VisualAfter, r.Pruned)), Is.EqualTo(new[] { (2, 12L, 12L, false) }));
        Assert.That(kept.Stages.Single().KeptLocalIndices, Is.EqualTo(Enumerable.Range(0, 12).Select(i => (long)i)));
        var textOnly = new PrefillState(text.Embeddings, text.PositionIds, text.VisualSpans, text.TokenIds, 2);
        var passed = Pio(PruningTestKit.Schedule((2, 0))).Prune(textOnly, lm);
        Assert.That(SameParts(passed, textOnly), "no image, even with Keep = 0");
        Assert.That(passed.Stages.Select(r => (r.VisualBefore, r.VisualAfter, r.Pruned)), Is.EqualTo(new[] { (0L, 0L, false) }));
        Assert.That(state.Stages, Is.Empty, "the input state is not changed");
    }

    static bool SameParts(PrefillState a, PrefillState b) =>
        ReferenceEquals(a.Hidden, b.Hidden) && ReferenceEquals(a.PositionIds, b.PositionIds) &&
        ReferenceEquals(a.VisualSpans, b.VisualSpans) && ReferenceEquals(a.TokenIds, b.TokenIds) && a.LayersDone == b.LayersDone;

    /// <summary>
    /// After a two-stage pruned prefill, every decode step's logits equal a full prefill of prompt + generated tokens
    /// in which the independent <see cref="ForcedSelectionPruner"/> replays the same kept indices at the same layers.
    /// </summary>
    [TestCase(PositionPolicy.Compact)]
    [TestCase(PositionPolicy.KeepOriginal)]
    public void DecodeAfterPruning_EqualsFullPrefillWithTheSameSelection(PositionPolicy policy)
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        using var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, OneImage);
        var pruner = Pio(PruningTestKit.Schedule((1, 7), (3, 3)));
        using var cache = PruningTestKit.Cache(lm);
        var generated = new List<int>();
        var stages = new List<PruningStageReport>();
        var logits = PrefillAndDecode(lm, seq, cache, pruner, policy, 4, generated, stages);

        Assert.That(stages.Select(r => (r.VisualBefore, r.VisualAfter)), Is.EqualTo(new[] { (12L, 7L), (7L, 3L) }));
        var forced = new ForcedSelectionPruner(stages.ToDictionary(r => r.AfterLayer, r => r.KeptLocalIndices.ToArray()));
        for (int t = 0; t <= 4; t++)
        {
            using var longer = PruningTestKit.Prompt(lm, OneImage, extraText: generated.Take(t).ToArray());
            using var oracleCache = PruningTestKit.Cache(lm);
            using var oracle = DecoderRunner.Prefill(lm, longer, oracleCache, forced, policy);
            TensorAssert.Close(logits[t], oracle.LastLogits, 1e-9, 1e-9, t == 0 ? "prefill logits" : $"{policy} decode step {t}");
        }
    }

    [Test]
    public void KvCacheLengths_FullBeforeEachStage_PrunedAfter()
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        using var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, OneImage);
        using var cache = PruningTestKit.Cache(lm);
        using var prefill = DecoderRunner.Prefill(lm, seq, cache, Pio(PruningTestKit.Schedule((1, 7), (3, 3))));
        Assert.That(cache.Lengths, Is.EqualTo(new long[] { 20, 15, 15, 11 }));
        Assert.That(prefill.TokensPerLayer, Is.EqualTo(new long[] { 20, 15, 15, 11 }));
        Assert.That(prefill.VisualTokensPerLayer, Is.EqualTo(new long[] { 12, 7, 7, 3 }));
        DecoderRunner.Step(lm, 5, prefill.DecodeState, cache);
        Assert.That(cache.Lengths, Is.EqualTo(new long[] { 21, 16, 16, 12 }));
    }

    [Test]
    public void KeepZero_RemovesAllVisualTokens_LaterStagesPassThrough()
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        using var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, OneImage);
        var pruner = Pio(PruningTestKit.Schedule((2, 0), (3, 0)));
        using var cache = PruningTestKit.Cache(lm);
        using var prefill = DecoderRunner.Prefill(lm, seq, cache, pruner);
        Assert.That(cache.Lengths, Is.EqualTo(new long[] { 20, 20, 8, 8 }));
        Assert.That(prefill.VisualTokensOut, Is.Zero);
        Assert.That(prefill.Stages.Select(r => (r.Pruned, r.VisualAfter, r.ScoreMs)), Is.EqualTo(new[] { (true, 0L, 0.0), (false, 0L, 0.0) }),
            "Keep = 0 needs no scores; the next stage sees no image");
        using var oracleCache = PruningTestKit.Cache(lm);
        using var oracle = DecoderRunner.Prefill(lm, seq, oracleCache, new ForcedSelectionPruner(new Dictionary<int, long[]> { [2] = [] }));
        TensorAssert.Close(prefill.LastLogits, oracle.LastLogits, 1e-12, 1e-12, "text-only continuation");
    }

    [TestCase(RatioBase.Current, 6, 1)]
    [TestCase(RatioBase.Original, 6, 3)]
    public void RatioStages_OfCurrentOrOriginalCount(RatioBase ratioOf, long afterFirst, long afterSecond)
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        using var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, OneImage);
        var schedule = new PruningSchedule
        {
            Name = "ratios",
            Stages = [new PruningStage { AfterLayer = 1, Ratio = 0.5, RatioOf = ratioOf }, new PruningStage { AfterLayer = 2, Ratio = 0.25, RatioOf = ratioOf }],
        };
        var pruner = Pio(schedule);
        using var cache = PruningTestKit.Cache(lm);
        using var prefill = DecoderRunner.Prefill(lm, seq, cache, pruner);
        Assert.That(prefill.Stages.Select(r => r.VisualAfter), Is.EqualTo(new[] { afterFirst, afterSecond }),
            "floor(0.25 · 6) = 1 of the current count; floor(0.25 · 12) = 3 of the original");
    }

    [Test]
    public void InvalidStages_Throw()
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        var scorer = new FeatureNormScorer();
        var nms = new FeatureNms();
        Assert.That(() => new ScoreThenSelectPruner(scorer, nms, PruningTestKit.Schedule((0, 4))),
            Throws.ArgumentException.With.Message.Contains("AfterLayer = 0"));
        Assert.That(() => new ScoreThenSelectPruner(scorer, nms, PruningTestKit.Schedule((3, 4), (2, 2))),
            Throws.ArgumentException.With.Message.Contains("strictly ascending"));
        Assert.That(() => new ScoreThenSelectPruner(scorer, nms, new PruningSchedule { Name = "both", Stages = [new PruningStage { AfterLayer = 1, Keep = 2, Ratio = 0.5 }] }),
            Throws.ArgumentException.With.Message.Contains("exactly one of Keep and Ratio"));
        Assert.That(() => PruningTestKit.Schedule((4, 4)).Validate(4), Throws.ArgumentException.With.Message.Contains("AfterLayer = 4 is outside 1..3"));

        using var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, OneImage);
        using var cache = PruningTestKit.Cache(lm);
        var tooDeep = new ScoreThenSelectPruner(scorer, nms, PruningTestKit.Schedule((1, 6), (4, 2)));
        Assert.That(() => DecoderRunner.Prefill(lm, seq, cache, tooDeep),
            Throws.ArgumentException.With.Message.Contains("AfterLayer = 4 is outside 1..3 for a 4-layer decoder"));
    }

    /// <summary>
    /// Two images with text between them, 3-row (M-RoPE-shaped) position ids. Positions: text 0–1, image 0 at 2–5,
    /// text 6–7, image 1 at 8–12, text 13. Local indices 0–3 are image 0, 4–8 image 1.
    /// </summary>
    [TestCase(new long[] { 1, 3, 5, 8 }, new long[] { 0, 1, 3, 5, 6, 7, 9, 12, 13 }, 2, 2, 6, 2)]
    [TestCase(new long[] { 4, 6, 7 }, new long[] { 0, 1, 6, 7, 8, 10, 11, 13 }, -1, 0, 4, 3)]
    [TestCase(new long[] { 0, 2 }, new long[] { 0, 1, 2, 4, 6, 7, 13 }, 2, 2, -1, 0)]
    public void MultiImage_SpansShrinkAndShift(long[] keptLocal, long[] keptRows, long startA, long lengthA, long startB, long lengthB)
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        using var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, [2, 4, 2, 5, 1], positionRows: 3);
        Assert.That(seq.VisualSpans, Is.EqualTo(new[] { new VisualSpan(2, 4, 0), new VisualSpan(8, 5, 1) }), "fixture layout");
        var scores = new float[9];
        foreach (long k in keptLocal) scores[k] = 1 + k;
        var pruner = new ScoreThenSelectPruner(new FixedScoreScorer(scores), new TopKSelector(),
            PruningTestKit.Schedule((2, keptLocal.Length)));
        var positions = seq.PositionIds * tensor(new long[] { 1, 10, 100 }).unsqueeze(1);   // rows distinguishable
        var state = new PrefillState(seq.Embeddings, positions, seq.VisualSpans, seq.TokenIds, 2);

        var pruned = pruner.Prune(state, lm);

        var expectedSpans = new List<VisualSpan>();
        if (lengthA > 0) expectedSpans.Add(new VisualSpan(startA, lengthA, 0));
        if (lengthB > 0) expectedSpans.Add(new VisualSpan(startB, lengthB, 1));
        Assert.That(pruned.VisualSpans, Is.EqualTo(expectedSpans));
        Assert.That(pruned.TokenIds, Is.EqualTo(keptRows.Select(r => seq.TokenIds[(int)r])));
        Assert.That(pruned.LayersDone, Is.EqualTo(2));
        var rows = tensor(keptRows);
        TensorAssert.Equal(pruned.Hidden, seq.Embeddings.index_select(1, rows), "kept hidden rows");
        TensorAssert.Equal(pruned.PositionIds, positions.index_select(1, rows), "original position ids gathered, all rows");
        foreach (var span in pruned.VisualSpans)
            Assert.That(pruned.TokenIds.Skip((int)span.Start).Take((int)span.Length), Is.All.EqualTo(PruningTestKit.ImageTokenId), "spans cover image tokens");
        Assert.That(pruned.TokenIds.Count(t => t == PruningTestKit.ImageTokenId), Is.EqualTo(keptLocal.Length));
        Assert.That(pruned.Stages.Single().KeptLocalIndices, Is.EqualTo(keptLocal));
    }

    [TestCase(float.NaN, "NaN or infinite")]
    [TestCase(float.PositiveInfinity, "NaN or infinite")]
    [TestCase(0f, "all 12 saliency scores are zero")]
    public void UnusableScores_FallBackToFeatureNorm(float bad, string warning)
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        using var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, OneImage);
        var scores = new float[12];
        if (bad != 0) { scores[4] = bad; scores[7] = 1; }
        var pruner = new ScoreThenSelectPruner(new FixedScoreScorer(scores), new TopKSelector(), PruningTestKit.Schedule((2, 5)));
        var state = new PrefillState(seq.Embeddings, seq.PositionIds, seq.VisualSpans, seq.TokenIds, 2);

        var pruned = pruner.Prune(state, lm);

        // Oracle: the 5 largest L2 norms of the visual rows, computed here in float64 with plain loops.
        using var visual = seq.Embeddings[0].narrow(0, 3, 12).to(ScalarType.Float64).contiguous();
        var flat = visual.data<double>().ToArray();
        int h = (int)visual.shape[1];
        var norms = Enumerable.Range(0, 12).Select(i => Math.Sqrt(flat.Skip(i * h).Take(h).Sum(x => x * x))).ToArray();
        var expected = Enumerable.Range(0, 12).OrderByDescending(i => norms[i]).Take(5).Select(i => (long)i).OrderBy(i => i);
        var report = pruned.Stages.Single();
        Assert.That(report.FallbackUsed, Is.True);
        Assert.That(report.Warning, Does.Contain(warning));
        Assert.That(report.KeptLocalIndices, Is.EqualTo(expected));
    }

    [Test]
    public void GoodScores_NoFallback_AndTheReportIsPerPrefill()
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        using var lm = PruningTestKit.Model();
        using var seqA = PruningTestKit.Prompt(lm, OneImage, seed: 1);
        using var seqB = PruningTestKit.Prompt(lm, [2, 9, 4], seed: 2);
        var pruner = new ScoreThenSelectPruner(new FeatureNormScorer(), new FeatureNms(), PruningTestKit.Schedule((1, 6), (3, 2)));
        using var cache = PruningTestKit.Cache(lm);
        IReadOnlyList<PruningStageReport> Run(MultimodalSequence seq)
        {
            cache.Reset();
            using var prefill = DecoderRunner.Prefill(lm, seq, cache, pruner);
            return prefill.Stages;
        }
        var first = Run(seqA);
        var second = Run(seqB);
        var third = Run(seqA);

        Assert.That(first.Select(r => (r.AfterLayer, r.VisualBefore, r.VisualAfter, r.FallbackUsed)), Is.EqualTo(new[] { (1, 12L, 6L, false), (3, 6L, 2L, false) }));
        Assert.That(second.Select(r => (r.AfterLayer, r.VisualBefore, r.VisualAfter)), Is.EqualTo(new[] { (1, 9L, 6L), (3, 6L, 2L) }));
        Assert.That(third.Select(r => r.KeptLocalIndices), Is.EqualTo(first.Select(r => r.KeptLocalIndices)), "same prompt, same selection");
        Assert.That(first.All(r => r.ScoreMs >= 0 && r.SelectMs >= 0 && r.SurgeryMs >= 0 && r.Warning == null));
    }

    [Test]
    public void SelectorReturningTheWrongCount_IsReported()
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        using var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, OneImage);
        var pruner = new ScoreThenSelectPruner(new FeatureNormScorer(), new BrokenSelector(), PruningTestKit.Schedule((2, 5)));
        var state = new PrefillState(seq.Embeddings, seq.PositionIds, seq.VisualSpans, seq.TokenIds, 2);
        Assert.That(() => pruner.Prune(state, lm), Throws.InvalidOperationException.With.Message.Contains("returned 4 indices for a budget of 5"));
    }

    sealed class BrokenSelector : ITokenSelector
    {
        public long[] Select(Tensor features, Tensor scores, int keep) => [0, 1, 2, 3];
    }
}
