using PioFvlm.Core.Pruning;
using PioFvlm.Models.Llava;

namespace PioFvlm.Tests.Pruning;

public sealed class PruningScheduleTests
{
    /// <summary>Spec §5.2 averages over 32 layers of 576 tokens, with the per-layer sums written out by hand.</summary>
    [TestCase("llava15-wo-ve-33", 576 + 9 * 344 + 5 * 202 + 17 * 86, 192.0, false)]
    [TestCase("llava15-wo-ve-22", 576 + 9 * 218 + 5 * 128 + 17 * 54, 128.0, true)]
    [TestCase("llava15-wo-ve-11", 576 + 9 * 92 + 5 * 54 + 17 * 22, 64.0, true)]
    [TestCase("llava15-w-ve-33", 16 * 288 + 16 * 96, 192.0, false)]
    [TestCase("llava15-w-ve-22", 16 * 192 + 16 * 64, 128.0, false)]
    [TestCase("llava15-w-ve-11", 16 * 96 + 16 * 32, 64.0, true)]
    public void Llava15Presets_AverageTheTargetCount(string name, int handSum, double average, bool isReference)
    {
        var schedule = Llava15Schedules.ByName(name);
        Assert.That(handSum, Is.EqualTo(average * 32), "the hand-written sum itself");
        Assert.That(schedule.VisualTokensPerLayer(32, 576).Sum(), Is.EqualTo(handSum));
        Assert.That(schedule.AverageVisualTokens(32, 576), Is.EqualTo(average));
        Assert.That(schedule.IsReference, Is.EqualTo(isReference));
    }

    [Test]
    public void PerLayerCounts_ChangeAfterEachStage()
    {
        Assert.That(Llava15Schedules.WithoutVe22.VisualTokensPerLayer(32, 576),
            Is.EqualTo(new[] { 576 }.Concat(Enumerable.Repeat(218, 9)).Concat(Enumerable.Repeat(128, 5)).Concat(Enumerable.Repeat(54, 17))));
        Assert.That(Llava15Schedules.WithVe11.VisualTokensPerLayer(32, 576),
            Is.EqualTo(Enumerable.Repeat(96, 16).Concat(Enumerable.Repeat(32, 16))));
        Assert.That(Llava15Schedules.WithVe11.VisualTokensPerLayer(32, 50), Is.EqualTo(Enumerable.Repeat(50, 16).Concat(Enumerable.Repeat(32, 16))),
            "fewer tokens than the pre-LLM budget: all enter, the stage still applies");
    }

    [Test]
    public void QwenRatioExample_Averages11Percent()
    {
        // Spec §5.4: 1296 tokens, VE keeps int(0.167·1296) = 216, layer 14 keeps int(0.333·216) = 71 → 143.5 on 28 layers.
        var schedule = new PruningSchedule { Name = "qwen", PreLlmKeep = 216, Stages = [new PruningStage { AfterLayer = 14, Ratio = 0.333 }] };
        Assert.That(schedule.AverageVisualTokens(28, 1296), Is.EqualTo(143.5));
    }

    [Test]
    public void Presets_AreValidForLlava15_AndNamesAreUnique()
    {
        foreach (var s in Llava15Schedules.All) s.Validate(32);
        Assert.That(Llava15Schedules.All.Select(s => s.Name), Is.Unique);
        Assert.That(() => Llava15Schedules.ByName("nope"), Throws.ArgumentException.With.Message.Contains("llava15-wo-ve-22"));
    }

    [Test]
    public void Validation_NamesTheScheduleAndStage()
    {
        var deep = new PruningSchedule { Name = "deep", Stages = [new PruningStage { AfterLayer = 32, Keep = 4 }] };
        Assert.That(() => deep.Validate(32), Throws.ArgumentException.With.Message.Contains("'deep'").And.Message.Contains("AfterLayer = 32"));
        var zero = new PruningSchedule { Name = "zero", Stages = [new PruningStage { AfterLayer = 0, Keep = 4 }] };
        Assert.That(() => zero.ValidateShape(), Throws.ArgumentException.With.Message.Contains("AfterLayer = 0"));
        // A pre-LLM budget is checked when it is made (TokenBudget), before any schedule holds it.
        Assert.That(() => new PruningSchedule { Name = "neg", PreLlmKeep = -1 }, Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("-1 is negative"));
        var ratio = new PruningSchedule { Name = "r", Stages = [new PruningStage { AfterLayer = 3, Ratio = 1.5 }] };
        Assert.That(() => ratio.Validate(8), Throws.ArgumentException.With.Message.Contains("Ratio = 1.5"));
    }
}
