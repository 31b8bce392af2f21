using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Attention;
using PioFvlm.Core.Pruning.Selectors;
using static TorchSharp.torch;
using PioFvlm.Models.Llava;

namespace PioFvlm.Tests.Pruning;

public class FastVTests
{
    static readonly int[] Layout = [3, 12, 2, 6, 4];   // 18 visual tokens in two images, text before, between and after

    static ScoreThenSelectPruner Pruner(int afterLayer, int keep)
    {
        var (scorer, selector) = PruningRegistry.CreateIntra("FastV", new IntraMethodSettings());
        Assert.That(selector, Is.TypeOf<TopKSelector>(), "FastV keeps plain top-k even though Nms defaults to true");
        return new ScoreThenSelectPruner(scorer, selector, PruningTestKit.Schedule((afterLayer, keep)));
    }

    /// <summary>Brute force: run layers 0..K-2 on the full prompt, take layer K-1's full eager matrix, head-mean, last row,
    /// visual columns, and the top <paramref name="keep"/> by hand.</summary>
    static long[] Expected(IDecoderStack lm, MultimodalSequence prompt, int k, int keep)
    {
        using var scope = NewDisposeScope();
        var input = k - 1 == 0 ? prompt.Embeddings : lm.RunLayers(prompt.Embeddings, prompt.PositionIds, null, 0, k - 1);
        long s = prompt.Length;
        var full = AttentionRowsReference.FullMatrix(lm, k - 1, input, Enumerable.Range(0, (int)s).Select(i => (long)i).ToArray());
        var last = full.mean([0])[s - 1];
        var visual = prompt.VisualSpans.SelectMany(v => Enumerable.Range((int)v.Start, (int)v.Length)).ToArray();
        double[] scores = visual.Select(p => last[p].item<double>()).ToArray();
        return AttentionRowsReference.TopSorted(scores, keep);
    }

    static (PrefillResult Result, ScoreThenSelectPruner Pruner) Run(int k, int keep, PositionPolicy policy = PositionPolicy.KeepOriginal)
    {
        using var lm = PruningTestKit.Model();
        var prompt = PruningTestKit.Prompt(lm, Layout);
        using var cache = PruningTestKit.Cache(lm);
        var pruner = Pruner(k, keep);
        return (DecoderRunner.Prefill(lm, prompt, cache, pruner, policy), pruner);
    }

    [TestCase(2, 5)]
    [TestCase(3, 7)]
    [TestCase(1, 4)]   // K = 1: layer 0's attention on the embeddings, captured in Begin
    public void KeepsTheTopOfLayerKMinusOneLastRowAttention(int k, int keep)
    {
        using var ng = no_grad();
        using var scope = NewDisposeScope();
        using var lm = PruningTestKit.Model();
        var prompt = PruningTestKit.Prompt(lm, Layout);
        using var cache = PruningTestKit.Cache(lm);
        var pruner = Pruner(k, keep);
        var result = DecoderRunner.Prefill(lm, prompt, cache, pruner, PositionPolicy.KeepOriginal);
        var report = result.Stages.Single();
        Assert.That(report.KeptLocalIndices, Is.EqualTo(Expected(lm, prompt, k, keep)));
        Assert.That((report.AfterLayer, report.VisualBefore, report.VisualAfter, report.FallbackUsed), Is.EqualTo((k, 18L, (long)keep, false)));
        Assert.That(result.VisualTokensOut, Is.EqualTo(keep));
        // Layers before K hold the full prompt in their caches, layers from K on only the kept tokens.
        for (int l = 0; l < 4; l++)
            Assert.That(cache.LengthOf(l), Is.EqualTo(l < k ? prompt.Length : prompt.Length - 18 + keep), $"cache length of layer {l}");
    }

    [Test]
    public void HandCheckableScoresOnTheLastLayerAttentionAreNotTheLayerKScores()
    {
        // Guard against an off-by-one in the layer: scoring with layer K's own attention picks a different set here.
        using var ng = no_grad();
        using var scope = NewDisposeScope();
        using var lm = PruningTestKit.Model();
        var prompt = PruningTestKit.Prompt(lm, Layout);
        var atK1 = Expected(lm, prompt, 2, 5);
        var atK = Expected(lm, prompt, 3, 5);
        Assert.That(atK1, Is.Not.EqualTo(atK), "the fixture must tell layer 1 from layer 2");
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(9)]
    [TestCase(17)]
    [TestCase(18)]
    [TestCase(40)]
    public void BudgetIsExactAndOrderIsKept(int keep)
    {
        using var ng = no_grad();
        using var scope = NewDisposeScope();
        var (result, pruner) = Run(2, keep);
        var report = result.Stages.Single();
        int expected = Math.Min(keep, 18);
        Assert.That(result.VisualTokensOut, Is.EqualTo(expected));
        Assert.That(report.KeptLocalIndices, Has.Length.EqualTo(expected).And.Ordered.Ascending.And.Unique);
        Assert.That(result.VisualTokensPerLayer, Is.EqualTo(new long[] { 18, 18, expected, expected }));
    }

    [Test]
    public void PresetsLandOnThePublishedAverages()
    {
        // Hand arithmetic (spec baselines §3.4): keep k from layer 2 on, average (2·576 + 30·k) / 32.
        Assert.That(new[] { 64, 128, 192 }.Select(b => Llava15AttentionBaselines.FastVKeep(b)), Is.EqualTo(new[] { 30, 98, 166 }));
        Assert.That(Llava15AttentionBaselines.FastV(64).AverageVisualTokens(32, 576), Is.EqualTo((2 * 576 + 30 * 30) / 32.0));
        Assert.That(Llava15AttentionBaselines.FastV(128).AverageVisualTokens(32, 576), Is.EqualTo((2 * 576 + 30 * 98) / 32.0));
        Assert.That(Llava15AttentionBaselines.FastV(192).AverageVisualTokens(32, 576), Is.EqualTo((2 * 576 + 30 * 166) / 32.0));
        foreach (int b in new[] { 64, 128, 192 })
            Assert.That(Llava15AttentionBaselines.FastV(b).AverageVisualTokens(32, 576), Is.EqualTo(b).Within(0.5), $"fastv-{b}");
        Assert.That(() => Llava15AttentionBaselines.FastVKeep(20), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void ShippedConfigParsesToFastVWithOriginalPositions()
    {
        var path = Path.Combine(RepoRoot(), "configs", "pruning", "fastv-64.json");
        var plan = PruningConfig.Load(path, Llava15Profile.Reference7B);
        Assert.That(plan.Positions, Is.EqualTo(PositionPolicy.KeepOriginal));
        var pruner = (ScoreThenSelectPruner)plan.Intra!;
        Assert.That(pruner.Scorer, Is.TypeOf<FastVScorer>());
        Assert.That(pruner.Selector, Is.TypeOf<TopKSelector>());
        Assert.That(pruner.Schedule.Stages, Is.EqualTo(Llava15AttentionBaselines.FastV(64).Stages));
        // Without Positions, FastV defaults to its reference policy; the preset name works too.
        var preset = PruningConfig.Parse("""{ "Method": "FastV", "Schedule": "fastv-128" }""", "test", Llava15Profile.Reference7B);
        Assert.That(preset.Positions, Is.EqualTo(PositionPolicy.KeepOriginal));
        Assert.That(((ScoreThenSelectPruner)preset.Intra!).Schedule.Stages.Single().Keep, Is.EqualTo(98));
    }

    [Test]
    public void AFastVStageAfterAnotherStageCapturesThePrunedInput()
    {
        // Stage a (FeatureNorm, after layer 1) prunes first; FastV's capture at the same boundary must see the pruned
        // sequence (otherwise its 18 scores would not fit the 12 tokens at its stage and the pruner would throw).
        using var ng = no_grad();
        using var scope = NewDisposeScope();
        using var lm = PruningTestKit.Model();
        var prompt = PruningTestKit.Prompt(lm, Layout);
        using var cache = PruningTestKit.Cache(lm);
        var plan = PruningConfig.Parse("""
            { "Method": "FeatureNorm", "Nms": false,
              "Stages": { "a": { "AfterLayer": 1, "Keep": 12 }, "b": { "Method": "FastV", "AfterLayer": 2, "Keep": 5 } } }
            """, "test");
        var result = DecoderRunner.Prefill(lm, prompt, cache, plan.Intra, plan.Positions!.Value);
        Assert.That(result.VisualTokensPerLayer, Is.EqualTo(new long[] { 18, 12, 5, 5 }));
    }

    [Test]
    public void ScoringWithoutACaptureFailsNamingTheLayer()
    {
        using var ng = no_grad();
        using var scope = NewDisposeScope();
        using var lm = PruningTestKit.Model();
        var prompt = PruningTestKit.Prompt(lm, Layout);
        var state = new PrefillState(prompt.Embeddings, prompt.PositionIds, prompt.VisualSpans, prompt.TokenIds, 2);
        Assert.That(() => new FastVScorer().Score(state, lm), Throws.InvalidOperationException.With.Message.Contains("layer 1"));
    }

    internal static string RepoRoot()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "PioFvlm.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("PioFvlm.sln not found above the test directory");
    }
}
