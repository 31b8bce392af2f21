using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Efficiency;
using PioFvlm.Core.Pruning.PreLlm;
using PioFvlm.Models.Llava;
using PioFvlm.Models.Qwen25Vl;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>Pre-LLM budgets as a count or a ratio, resolved per image; oracles are the spec's §5.4 numbers and hand sums.</summary>
public class TokenBudgetTests
{
    [Test]
    public void KeepIsACapAndRatioIsTheFloorOfTheFraction()
    {
        Assert.That(TokenBudget.Keep(96).Resolve(576), Is.EqualTo(96));
        Assert.That(TokenBudget.Keep(96).Resolve(50), Is.EqualTo(50), "fewer tokens than the budget: all of them");
        Assert.That(TokenBudget.Ratio(0.167).Resolve(1296), Is.EqualTo(216), "spec §5.4: int(0.167·1296) = 216");
        Assert.That(TokenBudget.Ratio(0.333).Resolve(216L), Is.EqualTo(71L), "int(0.333·216) = int(71.93) = 71");
        Assert.That(TokenBudget.Ratio(1.0).Resolve(7), Is.EqualTo(7));
        Assert.That(TokenBudget.Ratio(0).Resolve(7), Is.Zero);
        TokenBudget fromInt = 64;
        Assert.That(fromInt, Is.EqualTo(TokenBudget.Keep(64)));
        Assert.That((TokenBudget.Keep(96).ToString(), TokenBudget.Ratio(0.25).ToString()), Is.EqualTo(("96", "x0.25")));
    }

    [Test]
    public void AQuotientFractionGivesTheWholeNumberItMeans()
    {
        // 92/576 of 2880 is 460; the double product is 459.99999999999994, and a plain floor would give 459.
        Assert.That(92.0 / 576 * 2880, Is.LessThan(460), "the premise: the double product falls short");
        Assert.That(TokenBudget.Ratio(92.0 / 576).Resolve(2880), Is.EqualTo(460));
        Assert.That(new PruningStage { AfterLayer = 1, Ratio = 202.0 / 576, RatioOf = RatioBase.Original }.Budget(2880, 2880), Is.EqualTo(1010));
    }

    [Test]
    public void BadBudgetsAreRefusedWithTheValue()
    {
        Assert.That(() => TokenBudget.Keep(-3), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("-3 is negative"));
        Assert.That(() => TokenBudget.Ratio(1.5), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("1.5 is outside [0, 1]"));
        Assert.That(() => TokenBudget.Ratio(double.NaN), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void ScheduleWithARatioPreLlmBudget_ResolvesOnEachImagesCount()
    {
        var schedule = new PruningSchedule
        {
            Name = "qwen", PreLlmKeep = TokenBudget.Ratio(0.167), Stages = [new PruningStage { AfterLayer = 14, Ratio = 0.333 }],
        };
        Assert.That(schedule.VisualTokensPerLayer(28, 1296), Is.EqualTo(Enumerable.Repeat(216, 14).Concat(Enumerable.Repeat(71, 14))));
        // A 391-token image (640×480): int(0.167·391) = int(65.30) = 65, int(0.333·65) = int(21.65) = 21.
        Assert.That(schedule.VisualTokensPerLayer(28, 391), Is.EqualTo(Enumerable.Repeat(65, 14).Concat(Enumerable.Repeat(21, 14))));
    }

    [Test]
    public void APresetsPreLlmRatio_ConvertsToASchedule()
    {
        var preset = Qwen25VlProfile.Reference7B.Preset("pio-ve-11");
        var schedule = preset.ToSchedule();
        Assert.That(schedule.PreLlmKeep, Is.EqualTo(TokenBudget.Ratio(0.167)));
        Assert.That(schedule.Stages, Is.EqualTo(preset.Stages));
        Assert.That(preset.VisualEnteringLlm(1296), Is.EqualTo(216));
        var both = new SchedulePreset("both", "", 5, 0.5, []);
        Assert.That(() => both.ToSchedule(), Throws.InvalidOperationException.With.Message.Contains("'both'"));
    }

    [Test]
    public void ARatioPreLlmReducer_KeepsItsShareOfEachImage()
    {
        var reducer = PruningRegistry.CreatePreLlm("DivPrune", TokenBudget.Ratio(0.5));
        Assert.That(reducer, Is.InstanceOf<PerImageBudgetReducer>());
        Assert.That(reducer.Signals, Is.EqualTo(new DivPruneStage(1).Signals));
        using var scope = NewDisposeScope();
        foreach (int n in new[] { 10, 7 })
        {
            var context = new VisionStageContext(0, randn([n, 4], generator: new Generator(3)), new VScanFixtures.FakeSignals(1, new Dictionary<int, Tensor>()));
            var reduction = reducer.Reduce(context);
            Assert.That(reduction.KeptIndices, Has.Length.EqualTo(n / 2), $"⌊0.5·{n}⌋");
            Assert.That(reduction.Features.shape, Is.EqualTo(new long[] { n / 2, 4 }));
        }
        Assert.That(PruningRegistry.CreatePreLlm("DivPrune", TokenBudget.Keep(12)), Is.InstanceOf<DivPruneStage>(), "a count builds the reducer itself");
    }

    [Test]
    public void APruningConfigStageBeforeTheLlm_TakesARatio()
    {
        var plan = PruningConfig.Parse("""{ "Stages": { "ve": { "Method": "DivPrune", "Ratio": 0.25 }, "s1": { "AfterLayer": 2, "Keep": 10 } } }""", "t.json");
        Assert.That(((PerImageBudgetReducer)plan.PreLlm!).Budget, Is.EqualTo(TokenBudget.Ratio(0.25)));
        Assert.That(((ScoreThenSelectPruner)plan.Intra!).Schedule.PreLlmKeep, Is.EqualTo(TokenBudget.Ratio(0.25)));
    }

    [Test]
    public void ASchedulePresetNeedsTheModelFamily()
    {
        var e = Assert.Throws<FormatException>(() => PruningConfig.Parse("""{ "Schedule": "pio-11" }""", "t.json"))!;
        Assert.That(e.Message, Does.StartWith("t.json: Schedule 'pio-11'").And.Contain("without a model"));
        Assert.That(PruningConfig.Parse("""{ "Schedule": "pio-11" }""", "t.json", Llava15Profile.Reference7B).Intra, Is.Not.Null);
    }
}
