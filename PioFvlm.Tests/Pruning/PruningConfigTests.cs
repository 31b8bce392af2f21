using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.PreLlm;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Core.Pruning.Selectors;
using PioFvlm.Models.Llava;

namespace PioFvlm.Tests.Pruning;

/// <summary>JSON pruning configs: presets, named stages, methods, and errors that name the key.</summary>
public class PruningConfigTests
{
    static readonly PioFvlm.Core.Models.ModelProfile Llava = Llava15Profile.Reference7B;

    [Test]
    public void PresetNameGivesThePioPlanWithTheReferenceStages()
    {
        var plan = PruningConfig.Parse("""{ "Method": "PioFvlm", "Schedule": "pio-11" }""", "t.json", Llava);
        var pruner = (ScoreThenSelectPruner)plan.Intra!;
        Assert.That(pruner.Schedule.Stages.Select(s => (s.AfterLayer, s.Keep)),
            Is.EqualTo(new[] { (1, (int?)92), (10, 54), (15, 22) }), "spec §5.2: [1,10,15] / [92,54,22]");
        Assert.That(pruner.Scorer, Is.InstanceOf<GradientSaliency>());
        Assert.That(pruner.Selector, Is.InstanceOf<FeatureNms>());
        Assert.That(((FeatureNms)pruner.Selector).Threshold, Is.EqualTo(0.8));
        Assert.That(plan.PreLlm, Is.Null);
        Assert.That(plan.Positions, Is.EqualTo(PositionPolicy.Compact));
    }

    [Test]
    public void ProbeOffsetAndWindowSizeReachTheProbeAndDefaultToTheReference()
    {
        static GradientSaliencyOptions Probe(string json) =>
            ((GradientSaliency)((ScoreThenSelectPruner)PruningConfig.Parse(json, "t.json", Llava).Intra!).Scorer).Options;
        var reference = Probe("""{ "Method": "PioFvlm", "Schedule": "pio-11" }""");
        Assert.That((reference.ProbeLayerOffset, reference.WindowSize), Is.EqualTo((0, 4)), "LLaVA reference: next layer, S-5..S-2");
        var changed = Probe("""{ "Method": "PioFvlm", "Schedule": "pio-11", "ProbeOffset": -1, "WindowSize": 1, "Window": "IncludeLastToken" }""");
        Assert.That((changed.ProbeLayerOffset, changed.WindowSize, changed.Window), Is.EqualTo((-1, 1, SupervisionWindow.IncludeLastToken)));
        Assert.That(() => PruningConfig.Parse("""{ "Method": "PioFvlm", "Schedule": "pio-11", "WindowSize": 0 }""", "t.json", Llava),
                    Throws.TypeOf<FormatException>().With.Message.Contains("WindowSize must be at least 1"));
    }

    [Test]
    public void WithVePresetAddsTheEncoderStage()
    {
        var plan = PruningConfig.Parse("""{ "Schedule": "pio-ve-11" }""", "t.json", Llava);
        Assert.That(plan.PreLlm, Is.InstanceOf<VScanEncoderStage>());
        Assert.That(((VScanEncoderStage)plan.PreLlm!).Budget, Is.EqualTo(96));
        Assert.That(((ScoreThenSelectPruner)plan.Intra!).Schedule.Stages.Single().AfterLayer, Is.EqualTo(16));
    }

    [Test]
    public void NamedStagesAreOrderedByLayerAndOptionsApply()
    {
        var plan = PruningConfig.Parse("""
            { "Method": "PioFvlm", "Stages": { "late": { "AfterLayer": 9, "Ratio": 0.5 }, "early": { "AfterLayer": 2, "Keep": 30 } },
              "Nms": false, "Probe": "Full", "Window": "IncludeLastToken", "Positions": "KeepOriginal" }
            """, "t.json");
        var pruner = (ScoreThenSelectPruner)plan.Intra!;
        Assert.That(pruner.Schedule.Stages.Select(s => s.AfterLayer), Is.EqualTo(new[] { 2, 9 }));
        Assert.That(pruner.Schedule.Stages[1].Ratio, Is.EqualTo(0.5));
        Assert.That(pruner.Selector, Is.InstanceOf<TopKSelector>());
        var saliency = (GradientSaliency)pruner.Scorer;
        Assert.That(saliency.Options.Probe, Is.EqualTo(ProbeImplementation.Full));
        Assert.That(saliency.Options.Window, Is.EqualTo(SupervisionWindow.IncludeLastToken));
        Assert.That(plan.Positions, Is.EqualTo(PositionPolicy.KeepOriginal));
    }

    [Test]
    public void ControlMethodsAndKeepAll()
    {
        Assert.That(((ScoreThenSelectPruner)PruningConfig.Parse("""{ "Method": "Random", "Seed": 3, "Schedule": "pio-22" }""", "t", Llava).Intra!).Scorer,
            Is.InstanceOf<RandomScorer>());
        Assert.That(((ScoreThenSelectPruner)PruningConfig.Parse("""{ "Method": "FeatureNorm", "Schedule": "pio-22" }""", "t", Llava).Intra!).Scorer,
            Is.InstanceOf<FeatureNormScorer>());
        var keepAll = PruningConfig.Parse("""{ "Method": "KeepAll" }""", "t");
        Assert.That(keepAll.Intra, Is.Null);
        Assert.That(keepAll.PreLlm, Is.Null);
    }

    [TestCase("""{ "Methdo": "PioFvlm" }""", "unknown key 'Methdo'")]
    [TestCase("""{ "Stages": { "s1": { "AfterLayer": 2, "Kep": 3 } } }""", "unknown key 'Stages:s1:Kep'")]
    [TestCase("""{ "Stages": { "s1": { "Keep": 3 } } }""", "Stages:s1:AfterLayer is required")]
    [TestCase("""{ "Stages": { "s1": { "AfterLayer": 2, "Keep": 3.5 } } }""", "Stages:s1:Keep must be an integer")]
    [TestCase("""{ "Schedule": "pio-99" }""", "unknown schedule preset 'pio-99'")]
    [TestCase("""{ "Schedule": "pio-11", "Stages": {} }""", "either Schedule")]
    [TestCase("""{ "Method": "Magic", "Schedule": "pio-11" }""", "unknown pruning method 'Magic'")]
    [TestCase("""{ "Schedule": "pio-11", "Probe": "Fast" }""", "Probe = 'Fast' is not one of Cheap, Full")]
    [TestCase("""[1, 2]""", "top level must be a JSON object")]
    [TestCase("""{ "Schedule": """, "not valid JSON")]
    public void BadConfigsNameTheFileAndKey(string json, string fragment)
    {
        var e = Assert.Throws<FormatException>(() => PruningConfig.Parse(json, "runs/bad.json", Llava))!;
        Assert.That(e.Message, Does.StartWith("runs/bad.json: ").And.Contain(fragment));
    }
}

/// <summary>Stages keyed by name, each naming its own method: an encoder-side method before the LLM, PIO inside it.</summary>
public class PruningConfigStageMethodTests
{
    [Test]
    public void EachStageNamesItsOwnMethod()
    {
        var plan = PruningConfig.Parse("""
            { "Method": "PioFvlm", "Stages": {
                "ve": { "Method": "VScan", "Keep": 96 },
                "s1": { "AfterLayer": 2, "Keep": 64 },
                "s2": { "Method": "Random", "AfterLayer": 5, "Keep": 32 } }, "Seed": 7 }
            """, "t.json");
        Assert.That(plan.PreLlm, Is.InstanceOf<VScanEncoderStage>());
        var pruner = (ScoreThenSelectPruner)plan.Intra!;
        Assert.That(pruner.Schedule.PreLlmKeep, Is.EqualTo(TokenBudget.Keep(96)));
        Assert.That(pruner.Scorer, Is.InstanceOf<GradientSaliency>(), "stages without a Method use the top-level one");
        Assert.That(pruner.StageMethods.Keys, Is.EqualTo(new[] { 5 }));
        Assert.That(pruner.StageMethods[5].Scorer, Is.InstanceOf<RandomScorer>());
        Assert.That(((RandomScorer)pruner.StageMethods[5].Scorer).Seed, Is.EqualTo(7));
    }

    [TestCase("""{ "Stages": { "a": { "Method": "VScan", "Keep": 96 }, "b": { "Method": "VScan", "Keep": 48 } } }""", "all act before the LLM")]
    [TestCase("""{ "Stages": { "a": { "Method": "VScan", "AfterLayer": 3, "Keep": 96 } } }""", "'VScan' acts before the LLM; remove AfterLayer")]
    [TestCase("""{ "Stages": { "a": { "Method": "Random", "Keep": 96 } } }""", "Stages:a:AfterLayer is required for the intra-LLM method 'Random'")]
    [TestCase("""{ "Stages": { "a": { "Method": "VScan", "Keep": 96, "Ratio": 0.5 } } }""", "needs one of Keep (a count) and Ratio")]
    [TestCase("""{ "Stages": { "a": { "Method": "VScan", "Ratio": 1.5 } } }""", "Stages:a:Ratio = 1.5 is outside [0, 1]")]
    [TestCase("""{ "PreLlmKeep": -1, "Stages": { "b": { "AfterLayer": 6, "Keep": 80 } } }""", "PreLlmKeep = -1 is negative")]
    [TestCase("""{ "Stages": { "a": { "AfterLayer": 2, "Keep": 50 }, "b": { "AfterLayer": 6, "Keep": 80 } } }""", "budgets must not increase")]
    [TestCase("""{ "Stages": { "a": { "Method": "VScan", "Keep": 40 }, "b": { "AfterLayer": 6, "Keep": 80 } } }""", "more than the 40 kept before it")]
    [TestCase("""{ "Stages": { "a": { "AfterLayer": 6, "Keep": 10 }, "b": { "AfterLayer": 6, "Keep": 5 } } }""", "strictly ascending")]
    public void InvalidStageCombinationsAreRejectedWithTheStageNamed(string json, string fragment)
    {
        var e = Assert.Throws<FormatException>(() => PruningConfig.Parse(json, "t.json"))!;
        Assert.That(e.Message, Does.StartWith("t.json: ").And.Contain(fragment));
    }
}

/// <summary>The top-level "Scope" of a pruning config: carried in the plan for LLaVA-NeXT, refused where it means nothing.</summary>
public class PruningConfigScopeTests
{
    const string BaseView = """{ "Method": "PioFvlm", "Schedule": "pio-bench", "Scope": "BaseViewOnly" }""";

    [Test]
    public void BaseViewOnlyIsCarriedInThePlanForLlavaNext()
    {
        var plan = PruningConfig.Parse(BaseView, "next.json", PioFvlm.Models.LlavaNext.LlavaNextProfile.Vicuna7B);
        Assert.That(plan.Scope, Is.EqualTo(AnyresPruningScope.BaseViewOnly));
        Assert.That(((ScoreThenSelectPruner)plan.Intra!).Schedule.Stages.Select(s => s.Keep), Is.EqualTo(new int?[] { 436, 255, 173 }));
        Assert.That(PruningConfig.Parse("""{ "Scope": "wholeimage" }""", "t.json", PioFvlm.Models.LlavaNext.LlavaNextProfile.Vicuna7B).Scope,
                    Is.EqualTo(AnyresPruningScope.WholeImage), "names are case-insensitive");
        Assert.That(PruningConfig.Parse("""{ "Schedule": "pio-11" }""", "t.json", PioFvlm.Models.LlavaNext.LlavaNextProfile.Vicuna7B).Scope,
                    Is.Null, "no Scope: the model decides");
    }

    [Test]
    public void BaseViewOnlyIsRefusedByFamiliesWithoutABaseView()
    {
        foreach (var profile in new[] { Llava15Profile.Reference7B, PioFvlm.Models.Qwen25Vl.Qwen25VlProfile.Reference7B })
        {
            var e = Assert.Throws<FormatException>(() => PruningConfig.Parse("""{ "Method": "PioFvlm", "Scope": "BaseViewOnly" }""", "cfg.json", profile));
            Assert.That(e!.Message, Does.StartWith("cfg.json: Scope 'BaseViewOnly'").And.Contain($"{profile.Family} images have no base view"));
            Assert.That(PruningConfig.Parse("""{ "Scope": "WholeImage" }""", "t.json", profile).Scope, Is.EqualTo(AnyresPruningScope.WholeImage),
                        "the whole image is every family's meaning");
        }
    }

    [Test]
    public void AnUnknownScopeNamesTheKnownOnes()
    {
        var e = Assert.Throws<FormatException>(() => PruningConfig.Parse("""{ "Scope": "Tiles" }""", "s.json"));
        Assert.That(e!.Message, Is.EqualTo("s.json: Scope = 'Tiles' is not one of WholeImage, BaseViewOnly"));
        e = Assert.Throws<FormatException>(() => PruningConfig.Parse("""{ "Scope": 1 }""", "s.json"));
        Assert.That(e!.Message, Does.Contain("Scope must be a string"));
    }
}
