using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Attention;
using PioFvlm.Core.Pruning.Dart;
using PioFvlm.Core.Pruning.Selectors;
using PioFvlm.Core.Pruning.SparseVlm;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>
/// <see cref="PrefillResult.Stages"/> says what the pruning did: its counts agree with the visual tokens the prefill
/// loop measured at every layer, and replaying its kept indices with the independent
/// <see cref="ForcedSelectionPruner"/> gives the same logits and cache.
/// </summary>
public sealed class PrefillStageReportTests
{
    static readonly int[] OneImage = [3, 24, 6];                      // 3 text, 24 visual, 6 text: S = 33

    public static IEnumerable<TestCaseData> Pruners()
    {
        var two = PruningTestKit.Schedule((1, 12), (3, 5));
        yield return new TestCaseData((Func<IPrefillPruner>)(() => PioFvlmMethod.Create(new PioFvlmOptions { Schedule = two }).Intra!), true).SetArgDisplayNames("PIO-FVLM");
        yield return new TestCaseData((Func<IPrefillPruner>)(() => new ScoreThenSelectPruner(new FastVScorer(), new TopKSelector(), PruningTestKit.Schedule((1, 14), (2, 6)))), true).SetArgDisplayNames("FastV");
        yield return new TestCaseData((Func<IPrefillPruner>)(() => new DartPruner(new PruningStage { AfterLayer = 2, Keep = 8 })), true).SetArgDisplayNames("DART");
        yield return new TestCaseData((Func<IPrefillPruner>)(() => new SparseVlmPruner(two, recycle: false)), true).SetArgDisplayNames("SparseVLM");
        yield return new TestCaseData((Func<IPrefillPruner>)(() => new SparseVlmPruner(two)), false).SetArgDisplayNames("SparseVLM+recycling");
    }

    [TestCaseSource(nameof(Pruners))]
    public void ReportsMatchTheMeasuredVisualCountsAndReplayToTheSameLogits(Func<IPrefillPruner> create, bool replayable)
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        using var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, OneImage);
        var pruner = create();
        using var cache = PruningTestKit.Cache(lm);
        using var prefill = DecoderRunner.Prefill(lm, seq, cache, pruner);

        var stages = prefill.Stages;
        Assert.That(stages, Is.Not.Empty);
        Assert.That(stages.Select(s => s.AfterLayer), Is.Ordered.Ascending.And.Unique.And.All.InRange(1, lm.LayerCount - 1));
        Assert.That(stages.Any(s => s.Pruned && s.VisualAfter < s.VisualBefore), "the fixture prunes");
        var perLayer = prefill.VisualTokensPerLayer;
        for (int layer = 1; layer < lm.LayerCount; layer++)
        {
            var stage = stages.SingleOrDefault(s => s.AfterLayer == layer);
            if (stage is null)
            {
                Assert.That(perLayer[layer], Is.EqualTo(perLayer[layer - 1]), $"no stage after layer {layer}: nothing removed");
                continue;
            }
            Assert.That(stage.VisualBefore, Is.EqualTo(perLayer[layer - 1]), $"stage after layer {layer}: visual tokens in");
            Assert.That(stage.VisualAfter, Is.EqualTo(perLayer[layer]), $"stage after layer {layer}: visual tokens out");
            Assert.That(prefill.TokensPerLayer[layer - 1] - prefill.TokensPerLayer[layer], Is.EqualTo(stage.VisualBefore - stage.VisualAfter),
                        $"stage after layer {layer}: only visual tokens leave");
            Assert.That(stage.KeptLocalIndices, Is.Ordered.Ascending.And.Unique.And.All.InRange(0L, stage.VisualBefore - 1));
            long recycled = stage is SparseVlmStageReport v ? v.Recycled : 0;
            Assert.That(stage.KeptLocalIndices.Count + recycled, Is.EqualTo(stage.VisualAfter), $"stage after layer {layer}: kept + merged");
            Assert.That(stage.Pruned, Is.EqualTo(stage.KeptLocalIndices.Count < stage.VisualBefore));
        }
        Assert.That(stages[0].VisualBefore, Is.EqualTo(prefill.VisualTokensIn));
        Assert.That(stages[^1].VisualAfter, Is.EqualTo(prefill.VisualTokensOut));
        if (!replayable) return;

        using var replayCache = PruningTestKit.Cache(lm);
        var forced = new ForcedSelectionPruner(stages.Where(s => s.Pruned).ToDictionary(s => s.AfterLayer, s => s.KeptLocalIndices.ToArray()));
        using var replay = DecoderRunner.Prefill(lm, seq, replayCache, forced);
        TensorAssert.Close(prefill.LastLogits, replay.LastLogits, atol: 1e-12, rtol: 0, what: "logits of the replayed selection");
        Assert.That(cache.Lengths, Is.EqualTo(replayCache.Lengths));
        Assert.That(replay.Stages, Is.Empty, "a pruner that reports nothing adds no stage");
    }

    [Test]
    public void UnprunedPrefillHasNoStagesAndNoPreLlmReport()
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        using var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, OneImage);
        using var cache = PruningTestKit.Cache(lm);
        using var prefill = DecoderRunner.Prefill(lm, seq, cache);
        Assert.That(prefill.Stages, Is.Empty);
        Assert.That(prefill.PreLlm, Is.Null);
    }

    /// <summary>One pruner, two prompts, prefills interleaved layer range by layer range: each state carries its own
    /// reports and scratch, so each prefill's reports equal those of the same prefill run alone.</summary>
    [Test]
    public void InterleavedPrefillsOfOnePrunerKeepTheirOwnReports()
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        using var lm = PruningTestKit.Model();
        using var seqA = PruningTestKit.Prompt(lm, OneImage, seed: 3);
        using var seqB = PruningTestKit.Prompt(lm, [2, 18, 5], seed: 4);
        var pruner = new SparseVlmPruner(PruningTestKit.Schedule((1, 12), (3, 5)));
        var alone = new[] { seqA, seqB }.Select(s =>
        {
            using var cache = PruningTestKit.Cache(lm);
            using var prefill = DecoderRunner.Prefill(lm, s, cache, pruner, PositionPolicy.KeepOriginal);   // as the hand loop below
            return Summary(prefill.Stages);
        }).ToArray();

        // Drive both prefills by hand, alternating between them after every layer.
        var states = new[] { seqA, seqB }.Select(s => pruner.Begin(new PrefillState(s.Embeddings, s.PositionIds, s.VisualSpans, s.TokenIds, 0), lm)).ToArray();
        for (int r = 1; r < lm.LayerCount; r++)
            for (int i = 0; i < 2; i++)
            {
                var s = states[i];
                var next = s with { Hidden = lm.RunLayers(s.Hidden, s.PositionIds, null, r - 1, r), LayersDone = r };
                states[i] = pruner.PrunesAfter(r) ? pruner.Prune(next, lm) : next;
            }
        Assert.That(states.Select(s => Summary(s.Stages)), Is.EqualTo(alone));
        Assert.That(alone[0], Is.Not.EqualTo(alone[1]), "the two prompts must be told apart");
    }

    static string Summary(IReadOnlyList<PruningStageReport> stages) =>
        string.Join("; ", stages.Select(s => $"{s.AfterLayer}: {s.VisualBefore}->{s.VisualAfter} [{string.Join(",", s.KeptLocalIndices)}]"));
}
