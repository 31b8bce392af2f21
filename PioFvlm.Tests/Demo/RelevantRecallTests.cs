using PioFvlm.Bench.Demo;
using PioFvlm.Bench.Eval;
using PioFvlm.Bench.Eval.Runner;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Selectors;
using PioFvlm.Tests.Pruning;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Demo;

/// <summary>Ground-truth relevant patches, the kept-token trace through pruning stages, and the recall built on both.</summary>
public sealed class RelevantRecallTests
{
    // 128 px image, grid 8: patch 16 px, index = row * 8 + column.
    static readonly ShapeObject InsideOnePatch = new(ShapeKind.Circle, ShapeColour.Red, 24, 24, 8);       // x, y in [16, 32]: patch (1, 1)
    static readonly ShapeObject OnACorner = new(ShapeKind.Circle, ShapeColour.Blue, 32, 32, 8);           // a quarter disc (~50 px) in each of 4 patches
    static readonly ShapeObject Grazing = new(ShapeKind.Square, ShapeColour.Green, 20, 40, 6);            // half side 5.28: columns 15..24, rows 35..44

    [Test]
    public void RelevantPatchesOfHandBuiltShapes()
    {
        Assert.That(RelevantPatches.Of(128, [InsideOnePatch], 8), Is.EqualTo(new long[] { 9 }));
        Assert.That(RelevantPatches.Of(128, [OnACorner], 8), Is.EqualTo(new long[] { 9, 10, 17, 18 }));
        // The square puts 10 of its pixels (one column) into patch (0, 2) = 16, under 1/8 of 256, and 90 into (1, 2) = 17,
        // which also holds its centre.
        Assert.That(RelevantPatches.Of(128, [Grazing], 8), Is.EqualTo(new long[] { 17 }));
        Assert.That(RelevantPatches.Of(128, [Grazing, InsideOnePatch], 8), Is.EqualTo(new long[] { 9, 17 }));
        Assert.That(RelevantPatches.Of(128, [], 8), Is.Empty);
    }

    [Test]
    public void TheCentrePatchCountsEvenWhenTheShapeCoversLittleOfIt()
    {
        // A radius-2 circle at (40.5, 40.5) covers ~12 pixels, all in patch (2, 2) = 18: under 1/8, but its centre is there.
        Assert.That(RelevantPatches.Of(128, [new ShapeObject(ShapeKind.Circle, ShapeColour.Red, 40.5, 40.5, 2)], 8), Is.EqualTo(new long[] { 18 }));
    }

    [Test]
    public void EveryGeneratedQuestionHasRelevantPatchesOnItsShapes()
    {
        var generator = new ShapesGenerator(new ShapesGeneratorOptions());
        foreach (var sample in generator.Samples(3, 40))
        {
            var relevant = RelevantPatches.Of(sample, 8);
            Assert.That(relevant, Is.Not.Empty, $"item {sample.Index}");
            foreach (var shape in sample.Question.About)
                Assert.That(relevant, Does.Contain((long)((int)(shape.Y / 16) * 8 + (int)(shape.X / 16))), $"item {sample.Index}: the centre patch of {shape}");
        }
    }

    [Test]
    public void RecallOfAHandBuiltKeptSet()
    {
        Assert.That(RelevantRecall.Of([1, 2, 3, 4], [2, 4, -1, 9]), Is.EqualTo(0.5));
        Assert.That(RelevantRecall.Of([7], [-1, -1]), Is.EqualTo(0), "merged tokens stand for no patch");
        Assert.That(RelevantRecall.Of([], [1]), Is.NaN);
    }

    [Test]
    public void SummaryAveragesPerStageAndPerType()
    {
        EvalSample Q(string id, string type, string relevant) => new(id, "q", null, type, new Dictionary<string, string> { [GroundTruth.RelevantField] = relevant });
        AnswerRecord A(string id, string trace) => new(id, "q", "a", "x", "m", new Dictionary<string, string> { [KeptTraceField.Key] = trace });
        var questions = new[] { Q("a", "exist", "[1,2]"), Q("b", "count", "[3,4,5,6]") };
        var answers = new[]
        {
            A("a", "visual=8;L1=0 1 2 3;L3=1 3;complete=1"),    // L1: 2/2, L3: 1/2
            A("b", "visual=8;L1=3 4 5 7;L3=3 7;complete=1"),    // L1: 3/4, L3: 1/4
        };
        var summary = RelevantRecall.Summarize(answers, questions)!;
        Assert.That(summary.Stages.Select(s => s.Stage), Is.EqualTo(new[] { "L1", "L3" }));
        Assert.That(summary.Stages[0].Percent, Is.EqualTo(87.5).Within(1e-9));
        Assert.That(summary.Stages[1].Percent, Is.EqualTo(37.5).Within(1e-9));
        Assert.That(summary.LastLayer, Is.EqualTo(37.5).Within(1e-9));
        Assert.That(summary.LastLayerPerType["exist"], Is.EqualTo(50).Within(1e-9));
        Assert.That(summary.LastLayerPerType["count"], Is.EqualTo(25).Within(1e-9));

        var unpruned = RelevantRecall.Summarize([A("a", "visual=8;complete=1")], questions)!;
        Assert.That(unpruned.LastLayer, Is.EqualTo(100), "no stage: every token present");
        Assert.That(RelevantRecall.Summarize([answers[0] with { Metadata = new Dictionary<string, string>() }], questions), Is.Null, "an answer without a trace");
    }

    [Test]
    public void TraceComposesPreLlmAndIntraStageIndices()
    {
        // Tower: 10 tokens. Pre-LLM keeps originals 7, 2, (merged), 5, 0. Stage after layer 1 keeps locals 0, 2, 3
        // (= 7, merged, 5); the stage after layer 3 keeps local 2 (= 5).
        var stats = new GenerationStats
        {
            VisualTokensBeforeReduction = 10, VisualTokensIn = 5,
            PreLlm = new PreLlmStageReport([[7, 2, -1, 5, 0]], 10, 5, 0),
            Stages = [Stage(1, 5, [0, 2, 3]), Stage(3, 3, [2])],
        };
        var trace = KeptTokenTrace.Of(stats);
        Assert.That(trace.Complete);
        Assert.That(trace.Stages.Select(s => s.Label), Is.EqualTo(new[] { "pre", "L1", "L3" }));
        Assert.That(trace.Stages[0].Original, Is.EqualTo(new long[] { 7, 2, -1, 5, 0 }));
        Assert.That(trace.Stages[1].Original, Is.EqualTo(new long[] { 7, -1, 5 }));
        Assert.That(trace.AtLastLayer, Is.EqualTo(new long[] { 5 }));
        var back = KeptTraceField.Parse(KeptTraceField.Format(trace), "test");
        Assert.That(back.Stages.Select(s => (s.AfterLayer, s.Original)), Is.EqualTo(trace.Stages.Select(s => (s.AfterLayer, s.Original))));
        Assert.That(back.VisualTokens, Is.EqualTo(10));

        Assert.That(KeptTokenTrace.Of(new GenerationStats { VisualTokensBeforeReduction = 4, VisualTokensIn = 4 }).AtLastLayer, Is.EqualTo(new long[] { 0, 1, 2, 3 }));
        var broken = stats with { Stages = [Stage(1, 5, [0, 2, 3]), Stage(3, 4, [2])] };
        Assert.That(() => KeptTokenTrace.Of(broken), Throws.ArgumentException.With.Message.Contains("after layer 3 reports 4 visual tokens entering it"));
        // A recycled token sits right after the kept ones (SparseVLM): later stages still map, the recycled one as −1.
        var recycled = stats with { Stages = [Stage(1, 5, [0, 2, 3]) with { VisualAfter = 4 }, Stage(3, 4, [2, 3])] };
        Assert.That(KeptTokenTrace.Of(recycled).Stages[0 + 1].Original, Is.EqualTo(new long[] { 7, -1, 5, -1 }));
        Assert.That(KeptTokenTrace.Of(recycled).AtLastLayer, Is.EqualTo(new long[] { 5, -1 }));
        var twoImages = stats with { PreLlm = new PreLlmStageReport([[0], [1]], 20, 2, 0) };
        Assert.That(KeptTokenTrace.Of(twoImages).Complete, Is.False, "one image per trace");
        Assert.That(KeptTokenTrace.Of(twoImages).AtLastLayer, Is.Null);
    }

    static PruningStageReport Stage(int after, long before, long[] kept) =>
        new() { AfterLayer = after, VisualBefore = before, VisualAfter = kept.Length, Pruned = true, KeptLocalIndices = kept };

    /// <summary>Prefers the visual tokens whose original index (position id − span start, positions kept original) is in
    /// the set for the stage: an independent way to know which originals a multi-stage prune keeps.</summary>
    sealed class OriginalIndexScorer(long spanStart, IReadOnlyDictionary<int, long[]> preferredAfterLayer) : ISaliencyScorer
    {
        public Tensor Score(PrefillState state, IDecoderStack decoder)
        {
            var positions = VisualTokens.Positions(state);
            var ids = state.PositionIds[0].to(ScalarType.Int64).data<long>().ToArray();
            var preferred = preferredAfterLayer[state.LayersDone];
            return tensor(positions.Select(p => preferred.Contains(ids[p] - spanStart) ? 1f : 0f).ToArray());
        }
    }

    [Test]
    public void TraceFollowsAMultiStagePruneOnTheTinyModel()
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        using var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, [3, 24, 6]);
        long[] first = [1, 4, 5, 8, 11, 13, 17, 19, 22, 23], second = [4, 13, 19, 23];
        var scorer = new OriginalIndexScorer(3, new Dictionary<int, long[]> { [1] = first, [3] = second });
        var pruner = new ScoreThenSelectPruner(scorer, new TopKSelector(), PruningTestKit.Schedule((1, first.Length), (3, second.Length)));
        using var cache = PruningTestKit.Cache(lm);
        using var prefill = DecoderRunner.Prefill(lm, seq, cache, pruner, PositionPolicy.KeepOriginal);

        var trace = KeptTokenTrace.Of(new GenerationStats { VisualTokensBeforeReduction = 24, VisualTokensIn = prefill.VisualTokensIn, Stages = prefill.Stages });
        Assert.That(trace.Stages.Select(s => s.Label), Is.EqualTo(new[] { "L1", "L3" }));
        Assert.That(trace.Stages[0].Original, Is.EqualTo(first));
        Assert.That(trace.Stages[1].Original, Is.EqualTo(second), "the second stage's local indices mapped through the first");
        Assert.That(prefill.Stages[1].KeptLocalIndices, Is.EqualTo(new long[] { 1, 5, 7, 9 }), "the fixture re-indexes: locals differ from originals");
        Assert.That(RelevantRecall.Of([4, 5, 6], trace.Stages[0].Original), Is.EqualTo(2 / 3.0).Within(1e-12));
        Assert.That(RelevantRecall.Of([4, 5, 6], trace.AtLastLayer!), Is.EqualTo(1 / 3.0).Within(1e-12));
    }
}
