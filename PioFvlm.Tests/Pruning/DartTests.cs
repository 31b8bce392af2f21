using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Dart;
using PioFvlm.Models.Text.Llama;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>DART on the tiny float64 LLaMA against the brute-force <see cref="DartReference"/>.</summary>
[NonParallelizable]
public class DartTests
{
    LlamaForCausalLM _lm = null!;

    [OneTimeSetUp]
    public void Load() => _lm = PruningTestKit.Model();

    [OneTimeTearDown]
    public void Release() => _lm.Dispose();

    /// <summary>Visual positions and the text positions after the last image, from a prompt layout.</summary>
    static (long[] Pool, long[] TextAfter, int Length) Layout(int[] layout)
    {
        var pool = new List<long>();
        long p = 0, lastEnd = 0;
        for (int i = 0; i < layout.Length; i++)
        {
            if (i % 2 == 1) { for (int k = 0; k < layout[i]; k++) pool.Add(p + k); lastEnd = p + layout[i]; }
            p += layout[i];
        }
        var after = Enumerable.Range((int)lastEnd, (int)(p - lastEnd)).Select(x => (long)x).ToArray();
        return (pool.ToArray(), after, (int)p);
    }

    (long[] Kept, double Margin, double NormMargin) Expected(MultimodalSequence seq, int[] layout, int afterLayer, int budget)
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        var (pool, textAfter, length) = Layout(layout);
        var input = afterLayer == 1 ? seq.Embeddings : _lm.RunLayers(seq.Embeddings, seq.PositionIds, null, 0, afterLayer - 1);
        var output = _lm.RunLayers(seq.Embeddings, seq.PositionIds, null, 0, afterLayer);
        var norms = DartReference.KeyNorms(_lm, afterLayer - 1, DartReference.Rows(input[0]), Enumerable.Range(0, length).Select(i => (long)i).ToArray());
        return DartReference.Select(_lm, norms, DartReference.Rows(output[0]), pool, textAfter, budget);
    }

    PrefillResult Prefill(MultimodalSequence seq, IPrefillPruner pruner, KvCache cache)
    {
        using var ng = no_grad();
        return DecoderRunner.Prefill(_lm, seq, cache, pruner, PositionPolicy.KeepOriginal);
    }

    [Test]
    public void KeyNormsAreTheHandProjectedPostRopeKeys()
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        using var seq = PruningTestKit.Prompt(_lm, [3, 20, 6]);
        var input = _lm.RunLayers(seq.Embeddings, seq.PositionIds, null, 0, 1);
        var state = new PrefillState(input, seq.PositionIds, seq.VisualSpans, seq.TokenIds, 1);
        var got = DartPruner.KeyL1Norms(state, _lm, 1);
        var want = DartReference.KeyNorms(_lm, 1, DartReference.Rows(input[0]), Enumerable.Range(0, 29).Select(i => (long)i).ToArray());
        TensorAssert.Close(tensor(got), tensor(want), atol: 1e-10, rtol: 1e-10, what: "key L1 norms of layer 1");
    }

    [TestCase(2, 16, new[] { 3, 30, 6 })]
    [TestCase(2, 8, new[] { 3, 30, 6 })]
    [TestCase(2, 15, new[] { 3, 30, 6 })]
    [TestCase(2, 24, new[] { 3, 30, 6 })]
    [TestCase(1, 9, new[] { 3, 30, 6 })]
    [TestCase(3, 0, new[] { 3, 30, 6 })]
    [TestCase(2, 16, new[] { 3, 30, 2 })]
    [TestCase(2, 16, new[] { 2, 10, 2, 12, 5 })]
    public void SelectionMatchesTheBruteForceDefinition(int afterLayer, int budget, int[] layout)
    {
        using var seq = PruningTestKit.Prompt(_lm, layout, seed: 31 + budget);
        var (want, margin, normMargin) = Expected(seq, layout, afterLayer, budget);
        Assert.That(margin, Is.GreaterThan(1e-6), "no float32 near-tie among the cosines");
        Assert.That(normMargin, Is.GreaterThan(1e-9), "no tie at the pivot cut");
        var pruner = new DartPruner(new PruningStage { AfterLayer = afterLayer, Keep = budget });
        using var cache = PruningTestKit.Cache(_lm);
        using var result = Prefill(seq, pruner, cache);

        var report = (DartStageReport)result.Stages.Single();
        Assert.That(report.KeptLocalIndices, Is.EqualTo(want));
        Assert.That(report.KeptLocalIndices, Is.Ordered.Ascending);
        int visual = Layout(layout).Pool.Length, text = Math.Min(4, Layout(layout).TextAfter.Length);
        int rule = 4 + (4 + text) * (budget / 8);
        Assert.That(result.VisualTokensOut, Is.EqualTo(rule), "4 image pivots + TOPK per pivot");
        Assert.That(result.VisualTokensPerLayer, Is.EqualTo(Enumerable.Range(0, 4).Select(l => l < afterLayer ? (long)visual : rule)));
        Assert.That(report.Selection!.ImagePivots.All(p => want.Contains(p)), "image pivots are kept");
    }

    [Test]
    public void PublishedRowsKeepFourPlusEightTopK()
    {
        var pruners = new[] { 64, 128, 192 }.Select(DartPruner.Llava15).ToArray();
        Assert.That(pruners.Select(p => p.KeptCount(576, p.Stage.Keep!.Value)), Is.EqualTo(new[] { 68, 132, 196 }));
        Assert.That(pruners.Select(p => p.AfterLayer), Is.All.EqualTo(2));
        Assert.That(pruners[0].KeptCount(576, 70), Is.EqualTo(68), "floor(B/8)");
        Assert.That(pruners[0].KeptCount(30, 64), Is.EqualTo(30), "never more than there are");
    }

    [Test]
    public void BudgetCoveringEveryTokenPrunesNothing()
    {
        using var seq = PruningTestKit.Prompt(_lm, [3, 30, 6]);
        var pruner = new DartPruner(new PruningStage { AfterLayer = 2, Keep = 26 });   // 4 + 8·3 = 28 < 30 would prune; 26 → TOPK 3
        var none = new DartPruner(new PruningStage { AfterLayer = 2, Keep = 32 });     // 4 + 32 ≥ 30
        using var cache = PruningTestKit.Cache(_lm);
        using (var r = Prefill(seq, pruner, cache)) Assert.That(r.VisualTokensOut, Is.EqualTo(28));
        cache.Reset();
        using var unpruned = Prefill(seq, none, cache);
        Assert.That(unpruned.VisualTokensOut, Is.EqualTo(30));
        Assert.That(unpruned.Stages.Single().Pruned, Is.False);
        Assert.That(((DartStageReport)unpruned.Stages.Single()).Selection, Is.Null, "no selection when nothing is pruned");
    }

    /// <summary>The logits after DART equal a forced replay of the same selection (plain slicing, one layer range):
    /// reading the keys after K−1 layers leaves the state and the cache as they were.</summary>
    [Test]
    public void PrefillEqualsAForcedReplayOfTheSameSelection()
    {
        using var seq = PruningTestKit.Prompt(_lm, [3, 30, 6], seed: 5);
        var pruner = new DartPruner(new PruningStage { AfterLayer = 2, Keep = 16 });
        using var cacheA = PruningTestKit.Cache(_lm);
        using var cacheB = PruningTestKit.Cache(_lm);
        using var dart = Prefill(seq, pruner, cacheA);
        var kept = dart.Stages.Single().KeptLocalIndices.ToArray();
        using var forced = Prefill(seq, new ForcedSelectionPruner(new Dictionary<int, long[]> { [2] = kept }), cacheB);
        TensorAssert.Close(dart.LastLogits, forced.LastLogits, atol: 1e-12, rtol: 0, what: "last logits");
        Assert.That(cacheA.Lengths, Is.EqualTo(cacheB.Lengths));
        Assert.That(cacheA.Lengths, Is.EqualTo(new long[] { 39, 39, 29, 29 }));
    }

    [Test]
    public void RepeatedPrefillsAreDeterministic()
    {
        using var seq = PruningTestKit.Prompt(_lm, [3, 30, 6], seed: 9);
        var pruner = new DartPruner(new PruningStage { AfterLayer = 2, Keep = 16 });
        using var cache = PruningTestKit.Cache(_lm);
        long[] first;
        using (var a = Prefill(seq, pruner, cache)) first = a.Stages.Single().KeptLocalIndices.ToArray();
        cache.Reset();
        using var second = Prefill(seq, pruner, cache);
        Assert.That(second.Stages.Single().KeptLocalIndices, Is.EqualTo(first));
    }

    [Test]
    public void RegistryAndConfigBuildTheWholePruner()
    {
        var info = PruningRegistry.Get("DART");
        Assert.That((info.Kind, PruningRegistry.IsWholePruner("DART"), PruningRegistry.DefaultPositions("DART")), Is.EqualTo((PruningMethodKind.IntraLlm, true, PositionPolicy.KeepOriginal)));
        Assert.That(PruningRegistry.CreatePruner("DART", PruningTestKit.Schedule((2, 64))), Is.InstanceOf<DartPruner>());
        Assert.That(() => PruningRegistry.CreateIntra("DART", new IntraMethodSettings()), Throws.ArgumentException);

        var plan = PruningConfig.Load(DivPrunePipelineTests.ShippedConfig("dart-64.json"));
        var dart = (DartPruner)plan.Intra!;
        Assert.That((dart.AfterLayer, dart.Stage.Keep, plan.Positions, plan.PreLlm), Is.EqualTo((2, (int?)64, PositionPolicy.KeepOriginal, (IPreLlmReducer?)null)));
        var defaulted = PruningConfig.Parse("""{ "Method": "DART", "Stages": { "s": { "AfterLayer": 2, "Keep": 128 } } }""", "t");
        Assert.That(defaulted.Positions, Is.EqualTo(PositionPolicy.KeepOriginal), "DART's official policy when none is given");
        var compact = PruningConfig.Parse("""{ "Method": "DART", "Positions": "Compact", "Stages": { "s": { "AfterLayer": 2, "Keep": 128 } } }""", "t");
        Assert.That(compact.Positions, Is.EqualTo(PositionPolicy.Compact));

        Assert.That(() => PruningConfig.Parse("""{ "Method": "DART", "Stages": { "a": { "AfterLayer": 2, "Keep": 64 }, "b": { "AfterLayer": 8, "Keep": 32 } } }""", "two.json"),
            Throws.InstanceOf<FormatException>().With.Message.Contains("two.json").And.Message.Contains("DART prunes once"));
        Assert.That(() => PruningConfig.Parse("""{ "Stages": { "a": { "Method": "DART", "AfterLayer": 2, "Keep": 64 }, "b": { "AfterLayer": 8, "Keep": 32 } } }""", "mix.json"),
            Throws.InstanceOf<FormatException>().With.Message.Contains("mix.json").And.Message.Contains("DART, PioFvlm"));
    }
}
