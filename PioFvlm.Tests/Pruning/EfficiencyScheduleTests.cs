using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Efficiency;
using PioFvlm.Models.Llava;
using PioFvlm.Models.Qwen25Vl;

namespace PioFvlm.Tests.Pruning;

/// <summary>Per-layer counts and averages of the paper's schedules; oracles are the spec's §5.2/§5.4 tables.</summary>
public sealed class EfficiencyScheduleTests
{
    static TokenSchedule Llava15(string preset, long text = 0)
    {
        var p = Llava15Presets.Get(preset);
        return TokenSchedule.Build(32, p.VisualEnteringLlm(576), text, p.Stages);
    }

    [TestCase("pio-11", "1×576, 9×92, 5×54, 17×22", 64.0)]
    [TestCase("pio-22", "1×576, 9×218, 5×128, 17×54", 128.0)]
    [TestCase("pio-33", "1×576, 9×344, 5×202, 17×86", 192.0)]
    [TestCase("pio-ve-11", "16×96, 16×32", 64.0)]
    [TestCase("pio-ve-22", "16×192, 16×64", 128.0)]
    [TestCase("pio-ve-33", "16×288, 16×96", 192.0)]
    public void LlavaPresets_PerLayerRunsAndAverage_MatchSpecTable(string preset, string runs, double average)
    {
        var s = Llava15(preset);
        Assert.That(LayerRuns.Format(s.VisualPerLayer), Is.EqualTo(runs));
        Assert.That(s.AverageVisualTokens, Is.EqualTo(average).Within(1e-12));
    }

    [Test]
    public void Average_IsThePapersWeightedSum()
    {
        // avg = Σ_s (r_{s+1} − r_s)·k_s / L with r = 0, 1, 10, 15, 32 and k = 576, 218, 128, 54: 4096 / 32.
        var s = Llava15("pio-22");
        double bySum = (1 * 576 + 9 * 218 + 5 * 128 + 17 * 54) / 32.0;
        Assert.That(bySum, Is.EqualTo(128));
        Assert.That(s.AverageVisualTokens, Is.EqualTo(bySum));
    }

    [Test]
    public void TextTokens_AddToEveryLayer_AndAreNeverPruned()
    {
        var s = Llava15("pio-11", text: 60);
        Assert.That(s.SequencePerLayer[0], Is.EqualTo(636));
        Assert.That(s.SequencePerLayer[1], Is.EqualTo(152));
        Assert.That(s.SequencePerLayer[31], Is.EqualTo(82));
        Assert.That(s.AverageSequenceLength, Is.EqualTo(124));
        Assert.That(s.Events.Select(e => (e.AfterLayer, e.VisualBefore, e.VisualAfter, e.SequenceBefore)),
            Is.EqualTo(new[] { (1, 576L, 92L, 636L), (10, 92L, 54L, 152L), (15, 54L, 22L, 114L) }));
    }

    [Test]
    public void QwenRatioSchedule_IsCumulativeAndFloors_AsSpec5_4()
    {
        // 1296 → int(0.167·1296) = 216 → int(0.333·216) = 71; average (14·216 + 14·71)/28 = 143.5 = 11.07 % of 1296.
        var p = Qwen25VlProfile.Reference7B.Preset("pio-ve-11");
        var s = TokenSchedule.Build(28, p.VisualEnteringLlm(1296), 0, p.Stages);
        Assert.That(LayerRuns.Format(s.VisualPerLayer), Is.EqualTo("14×216, 14×71"));
        Assert.That(s.AverageVisualTokens, Is.EqualTo(143.5));
        Assert.That(s.AverageVisualTokens / 1296, Is.EqualTo(0.1107).Within(5e-5));
    }

    [Test]
    public void RatioOfOriginal_UsesTheCountThatEnteredTheLlm()
    {
        var stages = new[]
        {
            new PruningStage { AfterLayer = 1, Ratio = 0.5, RatioOf = RatioBase.Original },
            new PruningStage { AfterLayer = 2, Ratio = 0.25, RatioOf = RatioBase.Original },
        };
        Assert.That(TokenSchedule.Build(4, 100, 0, stages).VisualPerLayer, Is.EqualTo(new long[] { 100, 50, 25, 25 }));
    }

    [Test]
    public void KeepAboveCurrent_PrunesNothing_AndMakesNoEvent()
    {
        var s = TokenSchedule.Build(4, 10, 5, [new PruningStage { AfterLayer = 2, Keep = 50 }]);
        Assert.That(s.VisualPerLayer, Is.EqualTo(new long[] { 10, 10, 10, 10 }));
        Assert.That(s.Events, Is.Empty);
    }

    [Test]
    public void BadStages_ThrowNamingTheStage()
    {
        var e = Assert.Throws<ArgumentException>(() => TokenSchedule.Build(32, 576, 0, [new PruningStage { AfterLayer = 32, Keep = 10 }]));
        Assert.That(e!.Message, Does.Contain("AfterLayer = 32").And.Contain("1..31"));
        e = Assert.Throws<ArgumentException>(() => TokenSchedule.Build(32, 576, 0,
            [new PruningStage { AfterLayer = 10, Keep = 100 }, new PruningStage { AfterLayer = 5, Keep = 50 }]));
        Assert.That(e!.Message, Does.Contain("strictly increasing"));
    }

    [Test]
    public void LayerRuns_CompressEqualNeighboursOnly()
    {
        Assert.That(LayerRuns.Format([5, 5, 3, 5]), Is.EqualTo("2×5, 1×3, 1×5"));
        Assert.That(LayerRuns.Format([7]), Is.EqualTo("1×7"));
    }
}
