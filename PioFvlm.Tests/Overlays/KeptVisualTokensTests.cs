using PioFvlm.Core.Pruning;

namespace PioFvlm.Tests.Overlays;

/// <summary>Stage-local kept indices composed back to original visual-token indices.</summary>
public class KeptVisualTokensTests
{
    static PruningStageReport Stage(int layer, long before, long after, params long[] kept) => new()
    {
        AfterLayer = layer, VisualBefore = before, VisualAfter = after, Pruned = true, KeptLocalIndices = kept,
    };

    [Test]
    public void PreLlmRowsThenStageCutsMapBackToOriginalIndices()
    {
        // 10 originals; the reducer passes rows standing for 5, 2, a merged token, 7; stage 1 keeps rows 0, 2, 3
        // (5, merged, 7) and appends one merged token; stage 2 keeps rows 0 and 2 (5, 7).
        var pre = new PreLlmStageReport([[5, 2, -1, 7]], 10, 4, 0);
        var steps = KeptVisualTokens.Trace(10, pre, [Stage(1, 4, 4, 0, 2, 3), Stage(3, 4, 2, 0, 2)]);
        Assert.That(steps.Select(s => s.Label), Is.EqualTo(new[] { "pre-LLM", "after layer 1", "after layer 3" }));
        Assert.That(steps[0].Kept, Is.EqualTo(new long[] { 2, 5, 7 }));
        Assert.That(steps[0].VisualCount, Is.EqualTo(4));
        Assert.That(steps[1].Kept, Is.EqualTo(new long[] { 5, 7 }), "the merged row and the appended merged token are not originals");
        Assert.That(steps[1].VisualCount, Is.EqualTo(4));
        Assert.That(steps[2].Kept, Is.EqualTo(new long[] { 5, 7 }));
    }

    [Test]
    public void StagesAloneIndexTheOriginalsAndNothingPrunedIsNoStep()
    {
        Assert.That(KeptVisualTokens.Trace(6, null, []), Is.Empty);
        var steps = KeptVisualTokens.Trace(6, null, [Stage(1, 6, 3, 1, 3, 5), Stage(2, 3, 1, 2)]);
        Assert.That(steps[0].Kept, Is.EqualTo(new long[] { 1, 3, 5 }));
        Assert.That(steps[1].Kept, Is.EqualTo(new long[] { 5 }), "local 2 of (1, 3, 5)");
    }

    [Test]
    public void InconsistentReportsAreRefusedNamingTheStage()
    {
        var e = Assert.Throws<ArgumentException>(() => KeptVisualTokens.Trace(6, null, [Stage(1, 6, 3, 0, 1, 2), Stage(4, 5, 2, 0, 1)]));
        Assert.That(e!.Message, Does.Contain("after layer 4 reports 5 visual tokens entering it").And.Contain("leave 3"));
        e = Assert.Throws<ArgumentException>(() => KeptVisualTokens.Trace(6, null, [Stage(2, 6, 2, 0, 6)]));
        Assert.That(e!.Message, Does.Contain("after layer 2 keeps local index 6, outside 0..5"));
        e = Assert.Throws<ArgumentException>(() => KeptVisualTokens.Trace(6, new PreLlmStageReport([[0], [1]], 12, 2, 0), []));
        Assert.That(e!.Message, Does.Contain("one image"));
    }
}
