using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Attention;
using PioFvlm.Core.Pruning.Selectors;
using static TorchSharp.torch;
using PioFvlm.Models.Llava;

namespace PioFvlm.Tests.Pruning;

public class PDropTests
{
    static readonly int[] Layout = [3, 12, 2, 6, 4];   // 18 visual tokens

    static ScoreThenSelectPruner Pruner(params (int AfterLayer, int Keep)[] stages)
    {
        var (scorer, selector) = PruningRegistry.CreateIntra("PDrop", new IntraMethodSettings());
        Assert.That(scorer, Is.TypeOf<PDropScorer>());
        Assert.That(selector, Is.TypeOf<TopKSelector>());
        return new ScoreThenSelectPruner(scorer, selector, PruningTestKit.Schedule(stages));
    }

    /// <summary>
    /// Brute force of a two-stage PDrop with renumbered positions: run layers to the boundary, take the NEXT layer's full
    /// eager matrix on the hidden states about to enter it, head-mean, last row, visual columns, top by hand; cut the
    /// sequence by index, renumber 0..S'-1, continue to the next boundary.
    /// </summary>
    static List<long[]> Expected(IDecoderStack lm, MultimodalSequence prompt, (int AfterLayer, int Keep)[] stages)
    {
        using var scope = NewDisposeScope();
        var hidden = prompt.Embeddings;
        var visual = prompt.VisualSpans.SelectMany(v => Enumerable.Range((int)v.Start, (int)v.Length).Select(p => (long)p)).ToList();
        long s = prompt.Length;
        int done = 0;
        var picks = new List<long[]>();
        foreach (var (after, keep) in stages)
        {
            hidden = lm.RunLayers(hidden, arange(s, dtype: ScalarType.Int64).unsqueeze(0), null, done, after);
            done = after;
            var full = AttentionRowsReference.FullMatrix(lm, after, hidden, Enumerable.Range(0, (int)s).Select(i => (long)i).ToArray());
            var last = full.mean([0])[s - 1];
            var kept = AttentionRowsReference.TopSorted(visual.Select(p => last[p].item<double>()).ToArray(), keep);
            picks.Add(kept);
            var dropped = visual.Where((_, i) => !kept.Contains(i)).ToHashSet();
            var rows = Enumerable.Range(0, (int)s).Select(i => (long)i).Where(p => !dropped.Contains(p)).ToArray();
            hidden = hidden.index_select(1, tensor(rows, ScalarType.Int64));
            visual = kept.Select(k => (long)Array.IndexOf(rows, visual[(int)k])).ToList();
            s = rows.Length;
        }
        return picks;
    }

    [Test]
    public void TwoStagesMatchTheBruteForceWithRenumberedPositions()
    {
        using var ng = no_grad();
        using var scope = NewDisposeScope();
        using var lm = PruningTestKit.Model();
        var prompt = PruningTestKit.Prompt(lm, Layout);
        using var cache = PruningTestKit.Cache(lm);
        (int, int)[] stages = [(1, 9), (3, 4)];
        var pruner = Pruner(stages);
        var result = DecoderRunner.Prefill(lm, prompt, cache, pruner, PositionPolicy.Compact);
        var expected = Expected(lm, prompt, stages);
        var report = result.Stages;
        Assert.That(report, Has.Count.EqualTo(2));
        Assert.That(report[0].KeptLocalIndices, Is.EqualTo(expected[0]), "stage after layer 1");
        Assert.That(report[1].KeptLocalIndices, Is.EqualTo(expected[1]), "stage after layer 3");
        Assert.That(result.VisualTokensPerLayer, Is.EqualTo(new long[] { 18, 9, 9, 4 }));
    }

    [Test]
    public void TheSignalIsTheNextLayersNotThePreviousOnes()
    {
        // The fixture must tell the next layer (PDrop) from the previous one (FastV's convention), or the test above proves little.
        using var ng = no_grad();
        using var scope = NewDisposeScope();
        using var lm = PruningTestKit.Model();
        var prompt = PruningTestKit.Prompt(lm, Layout);
        var next = Expected(lm, prompt, [(2, 6)])[0];
        var hidden = lm.RunLayers(prompt.Embeddings, prompt.PositionIds, null, 0, 1);
        var full = AttentionRowsReference.FullMatrix(lm, 1, hidden, Enumerable.Range(0, (int)prompt.Length).Select(i => (long)i).ToArray());
        var last = full.mean([0])[prompt.Length - 1];
        var visual = prompt.VisualSpans.SelectMany(v => Enumerable.Range((int)v.Start, (int)v.Length)).ToArray();
        var previous = AttentionRowsReference.TopSorted(visual.Select(p => last[p].item<double>()).ToArray(), 6);
        Assert.That(next, Is.Not.EqualTo(previous));
    }

    [TestCase(new[] { 12, 6, 2 })]
    [TestCase(new[] { 18, 18, 0 })]
    [TestCase(new[] { 1, 1, 1 })]
    [TestCase(new[] { 17, 5, 3 })]
    public void BudgetsAreExactAtEveryStageAndOrderIsKept(int[] keeps)
    {
        using var ng = no_grad();
        using var scope = NewDisposeScope();
        using var lm = PruningTestKit.Model();
        var prompt = PruningTestKit.Prompt(lm, Layout);
        using var cache = PruningTestKit.Cache(lm);
        var pruner = Pruner((1, keeps[0]), (2, keeps[1]), (3, keeps[2]));
        var result = DecoderRunner.Prefill(lm, prompt, cache, pruner, PositionPolicy.Compact);
        Assert.That(result.VisualTokensPerLayer, Is.EqualTo(new long[] { 18, keeps[0], keeps[1], keeps[2] }));
        foreach (var stage in result.Stages)
            Assert.That(stage.KeptLocalIndices, Is.Ordered.Ascending.And.Unique.And.Length.EqualTo(stage.VisualAfter));
    }

    [Test]
    public void OriginalRatiosAreFractionsOfTheEnteringCount()
    {
        // PDrop's ratio list multiplies the ORIGINAL count: [0.5, 0.25, 0.125] of 576 = 288, 144, 72 (spec §6.3).
        Assert.That(Llava15AttentionBaselines.PDropOfficial.VisualTokensPerLayer(32, 576).Distinct(), Is.EqualTo(new[] { 576, 288, 144, 72 }));
        Assert.That(Llava15AttentionBaselines.PDropOfficial.AverageVisualTokens(32, 576), Is.EqualTo((8 * 576 + 8 * 288 + 8 * 144 + 8 * 72) / 32.0));
    }

    [Test]
    public void PresetsLandOnThePublishedAverages()
    {
        // Hand arithmetic: layers [2, 6, 16] → 2 full layers, 4 at k1, 10 at k2, 16 at k3 (spec §6.4).
        Assert.That(Llava15AttentionBaselines.PDrop(64).AverageVisualTokens(32, 576), Is.EqualTo((2 * 576 + 4 * 66 + 10 * 30 + 16 * 17) / 32.0));
        Assert.That(Llava15AttentionBaselines.PDrop(128).AverageVisualTokens(32, 576), Is.EqualTo((2 * 576 + 4 * 303 + 10 * 110 + 16 * 36) / 32.0));
        Assert.That(Llava15AttentionBaselines.PDrop(192).AverageVisualTokens(32, 576), Is.EqualTo((2 * 576 + 4 * 300 + 10 * 200 + 16 * 110) / 32.0));
        foreach (int b in new[] { 64, 128, 192 })
            Assert.That(Llava15AttentionBaselines.PDrop(b).AverageVisualTokens(32, 576), Is.EqualTo(b).Within(2.0), $"pdrop-{b}");
        Assert.That(() => Llava15AttentionBaselines.PDrop(100), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void ShippedConfigParsesToPDropWithRenumberedPositions()
    {
        var plan = PruningConfig.Load(Path.Combine(FastVTests.RepoRoot(), "configs", "pruning", "pdrop-64.json"));
        Assert.That(plan.Positions, Is.EqualTo(PositionPolicy.Compact));
        var pruner = (ScoreThenSelectPruner)plan.Intra!;
        Assert.That(pruner.Scorer, Is.TypeOf<PDropScorer>());
        Assert.That(pruner.Schedule.Stages, Is.EqualTo(Llava15AttentionBaselines.PDrop(64).Stages));
        var ratios = PruningConfig.Parse("""{ "Method": "PDrop", "Stages": { "a": { "AfterLayer": 8, "Ratio": 0.5, "RatioOf": "Original" } } }""", "test");
        Assert.That(ratios.Positions, Is.EqualTo(PositionPolicy.Compact));
    }
}
