using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.SparseVlm;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>SparseVlmPruner on the tiny 4-layer LLaMA: brute-force raters and kept sets, schedule counts, recycled rows.</summary>
[NonParallelizable]
public class SparseVlmPrunerTests
{
    static long[] Range(long from, long count) => Enumerable.Range((int)from, (int)count).Select(i => (long)i).ToArray();

    /// <summary>Brute-force raters (sequence indices) and scores of the visual tokens at pruning layer
    /// <paramref name="layer"/>, from the unpruned prompt (valid for the first stage).</summary>
    static (long[] Raters, double[] Scores) BruteForce(IDecoderStack lm, MultimodalSequence seq, int layer)
    {
        var span = seq.VisualSpans.Single();
        long textStart = span.End, textCount = seq.Length - span.End;
        var emb = seq.Embeddings[0];
        long[] raters = SparseVlmReference.Raters(SparseVlmReference.Rows(emb.narrow(0, span.Start, span.Length)),
                                                  SparseVlmReference.Rows(emb.narrow(0, textStart, textCount))).Select(t => textStart + t).ToArray();
        var input = layer == 0 ? seq.Embeddings : lm.RunLayers(seq.Embeddings, seq.PositionIds, null, 0, layer);
        var attention = SparseVlmReference.EagerAttention(lm, layer, input, Range(0, seq.Length));
        return (raters, SparseVlmReference.Scores(attention, raters, Range(span.Start, span.Length)));
    }

    [Test]
    public void RatersAndKeptTokensMatchBruteForceAndTheCutEqualsPlainSlicing()
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, [3, 10, 6]);
        var (raters, scores) = BruteForce(lm, seq, layer: 1);
        long[] expectedKept = SparseVlmReference.TopK(scores, 4);

        var pruner = new SparseVlmPruner(PruningTestKit.Schedule((2, 4)), recycle: false);
        using var cache = PruningTestKit.Cache(lm);
        using var prefill = DecoderRunner.Prefill(lm, seq, cache, pruner);
        var report = (SparseVlmStageReport)prefill.Stages.Single();
        Assert.That(report.RaterPositions, Is.EqualTo(raters));
        Assert.That(raters.Length, Is.InRange(1, 5), "fixture: a proper subset of the 6 text tokens rates");
        Assert.That((report.Layer, report.AfterLayer, report.VisualBefore, report.Recycled, report.Pruned), Is.EqualTo((1, 2, 10L, 0, true)));
        Assert.That(report.KeptLocalIndices, Is.EqualTo(expectedKept));

        using var oracleCache = PruningTestKit.Cache(lm);
        using var oracle = DecoderRunner.Prefill(lm, seq, oracleCache, new ForcedSelectionPruner(new Dictionary<int, long[]> { [2] = expectedKept }));
        TensorAssert.Close(prefill.LastLogits, oracle.LastLogits, atol: 1e-10, rtol: 0, what: "logits after the cut");
        Assert.That(cache.Lengths, Is.EqualTo(oracleCache.Lengths));
    }

    [Test]
    public void KeptCountsFollowTheScheduleWithRecycledTokensOnTop()
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, [3, 40, 6]);
        // Stage after layer 1 scores with layer 0 (captured before layer 0). Hand counts, spec §5.4-5.5:
        // 40 → keep 20, drop 20, recycle floor(6)+1 = 7 into 1 → 21; 21 → 10 + (4 → 1) = 11; 11 → 4 + (3 → 1) = 5.
        var pruner = new SparseVlmPruner(PruningTestKit.Schedule((1, 20), (2, 10), (3, 4)));
        using var cache = PruningTestKit.Cache(lm);
        using var prefill = DecoderRunner.Prefill(lm, seq, cache, pruner);
        var report = prefill.Stages.Cast<SparseVlmStageReport>().ToArray();
        Assert.That(report.Select(r => (r.Layer, r.VisualBefore, r.KeptLocalIndices.Count, r.Recycled, r.VisualAfter)),
                    Is.EqualTo(new[] { (0, 40L, 20, 1, 21L), (1, 21L, 10, 1, 11L), (2, 11L, 4, 1, 5L) }));
        Assert.That(report[1].RecycledMembers.Single(), Has.Count.EqualTo(4));
        Assert.That(prefill.VisualTokensPerLayer, Is.EqualTo(new long[] { 40, 21, 11, 5 }));
        Assert.That(prefill.TokensPerLayer, Is.EqualTo(new long[] { 49, 30, 20, 14 }));
        Assert.That(cache.Lengths, Is.EqualTo(new long[] { 49, 30, 20, 14 }));
        Assert.That(prefill.VisualTokensOut, Is.EqualTo(5));

        // The first stage's scores come from layer 0's attention on the embeddings.
        var (_, scores) = BruteForce(lm, seq, layer: 0);
        Assert.That(report[0].KeptLocalIndices, Is.EqualTo(SparseVlmReference.TopK(scores, 20)));
    }

    [Test]
    public void ABudgetAtTheVisualCountStillDropsOneTokenAsTheReferenceDoes()
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, [3, 10, 6]);
        var pruner = new SparseVlmPruner(PruningTestKit.Schedule((2, 100)));
        using var cache = PruningTestKit.Cache(lm);
        using var prefill = DecoderRunner.Prefill(lm, seq, cache, pruner);
        var r = (SparseVlmStageReport)prefill.Stages.Single();
        Assert.That((r.KeptLocalIndices.Count, r.Recycled, r.VisualAfter), Is.EqualTo((9, 1, 10L)));
    }

    [Test]
    public void RecycledRowsAreTheMeansOfTheTopScoredDroppedTokensAfterTheKeptOnes()
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, [3, 40, 4]);
        var (_, scores) = BruteForce(lm, seq, layer: 1);
        var pruner = new SparseVlmPruner(PruningTestKit.Schedule((2, 5)));

        // Drive the pruner as DecoderRunner does, keeping the layer outputs for the oracle.
        var s0 = new PrefillState(seq.Embeddings, seq.PositionIds, seq.VisualSpans, seq.TokenIds, 0);
        var begun = pruner.Begin(s0, lm);
        Assert.That(pruner.PrunesAfter(1) && pruner.PrunesAfter(2) && !pruner.PrunesAfter(3));
        var s1 = begun with { Hidden = lm.RunLayers(seq.Embeddings, seq.PositionIds, null, 0, 1), LayersDone = 1 };
        var scored = pruner.Prune(s1, lm);
        Assert.That(ReferenceEquals(scored.Hidden, s1.Hidden) && ReferenceEquals(scored.PositionIds, s1.PositionIds),
                    "scoring the input of layer 1 passes the tensors through");
        Assert.That(scored.Stages, Is.Empty, "scoring is not a stage");
        var h2 = lm.RunLayers(s1.Hidden, seq.PositionIds, null, 1, 2);
        var cut = pruner.Prune(scored with { Hidden = h2, LayersDone = 2 }, lm);

        var report = (SparseVlmStageReport)cut.Stages.Single();
        long[] kept = SparseVlmReference.TopK(scores, 5);
        Assert.That(report.KeptLocalIndices, Is.EqualTo(kept));
        // 35 dropped → floor(10.5)+1 = 11 recycled candidates (the best-scored dropped) → 2 clusters.
        var dropped = Enumerable.Range(0, 40).Where(i => !kept.Contains(i)).OrderByDescending(i => scores[i]).ThenBy(i => i).ToArray();
        Assert.That(report.RecycledMembers, Has.Count.EqualTo(2));
        Assert.That(report.RecycledMembers.SelectMany(m => m).Order(), Is.EqualTo(dropped.Take(11).Order().Select(i => (long)i)));

        Assert.That(cut.Length, Is.EqualTo(3 + 5 + 2 + 4));
        Assert.That(cut.VisualSpans, Is.EqualTo(new[] { new VisualSpan(3, 7, 0) }));
        Assert.That(cut.TokenIds.Skip(3).Take(7), Is.All.EqualTo(PruningTestKit.ImageTokenId));
        var h = h2[0];
        TensorAssert.Close(cut.Hidden[0].narrow(0, 0, 3), h.narrow(0, 0, 3), atol: 0, rtol: 0, what: "text before the image");
        TensorAssert.Close(cut.Hidden[0].narrow(0, 3, 5), h.index_select(0, tensor(kept.Select(k => 3 + k).ToArray())), atol: 0, rtol: 0, what: "kept rows");
        for (int c = 0; c < 2; c++)
        {
            var members = SparseVlmReference.Rows(h.index_select(0, tensor(report.RecycledMembers[c].Select(k => 3 + k).ToArray())));
            var mean = Enumerable.Range(0, members[0].Length).Select(j => members.Average(m => m[j])).ToArray();
            TensorAssert.Close(cut.Hidden[0, 8 + c], tensor(mean), atol: 1e-12, rtol: 0, what: $"recycled token {c}");
            long position = cut.PositionIds[0, 8 + c].item<long>();
            Assert.That(report.RecycledMembers[c], Does.Contain(position - 3), "a recycled token carries its center's position");
        }
        TensorAssert.Close(cut.Hidden[0].narrow(0, 10, 4), h.narrow(0, 43, 4), atol: 0, rtol: 0, what: "text after the image");
    }

    [Test]
    public void PrefillDoesNotLeakNativeTensors()
    {
        using var ng = no_grad();
        var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, [3, 40, 6]);
        var pruner = new SparseVlmPruner(PruningTestKit.Schedule((1, 20), (2, 10), (3, 4)));
        NativeMemory.AssertNoGrowth(() =>
        {
            using var cache = PruningTestKit.Cache(lm);
            DecoderRunner.Prefill(lm, seq, cache, pruner).Dispose();
        }, repeats: 3, what: "SparseVLM prefill");
    }

    [Test]
    public void TheV15SchedulesCutTheOutputsOfLayers2And6And15()
    {
        var s = SparseVlmSchedules.ForBudget(64);
        Assert.That(s.Stages.Select(x => (x.AfterLayer, x.Keep)), Is.EqualTo(new (int, int?)[] { (3, 66), (7, 30), (16, 17) }));
        Assert.That(SparseVlmSchedules.ForBudget(128).Stages.Select(x => x.Keep), Is.EqualTo(new int?[] { 303, 110, 36 }));
        Assert.That(SparseVlmSchedules.ForBudget(192).Stages.Select(x => x.Keep), Is.EqualTo(new int?[] { 300, 200, 110 }));
        Assert.Throws<ArgumentException>(() => SparseVlmSchedules.ForBudget(96));
    }
}
