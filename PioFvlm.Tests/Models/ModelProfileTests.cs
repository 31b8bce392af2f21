using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Efficiency;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Models;
using PioFvlm.Models.Llava;
using PioFvlm.Models.LlavaNext;
using PioFvlm.Models.Qwen25Vl;

namespace PioFvlm.Tests.Models;

/// <summary>
/// Family profiles from config.json alone, their presets (averages against hand sums of spec pio-fvlm.md §5), and
/// the saliency defaults a plan takes from the profile.
/// </summary>
public class ModelProfileTests
{
    static string Config(string name) => Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "configs", name);

    static double Average(SchedulePreset p, int layers, long visual) =>
        TokenSchedule.Build(layers, p.VisualEnteringLlm(visual), 0, p.Stages).AverageVisualTokens;

    [Test]
    public void ProfileOf_ReadsTheFamilyFromConfigJsonAlone()
    {
        var llava = VlmLoader.ProfileOf(Config("llava-1.5-7b-hf"));
        Assert.That((llava.Family, llava.NominalVisualTokens, llava.VisualTokensForImage(640, 480)), Is.EqualTo(("llava-1.5", 576L, 576L)));
        Assert.That(llava.Preset("pio-11").Stages.Select(s => s.Keep), Is.EqualTo(new int?[] { 92, 54, 22 }));

        var next = VlmLoader.ProfileOf(Config("llava-v1.6-mistral-7b-hf"));
        Assert.That(next.Family, Is.EqualTo("llava-next"));
        Assert.That(next.VisualTokensForImage(640, 480), Is.EqualTo(2340), "llava.md §5.4");
        Assert.That(next.Text.NumKvHeads, Is.EqualTo(8));

        var qwen = VlmLoader.ProfileOf(Config("Qwen2.5-VL-7B-Instruct"));
        Assert.That((qwen.Family, qwen.PositionRows, qwen.DefaultPositions, qwen.VisionHasCls), Is.EqualTo(("qwen2.5-vl", 3, PositionPolicy.KeepOriginal, false)));
        Assert.That(qwen.VisualTokensForImage(1008, 1008), Is.EqualTo(1296));
        Assert.That(qwen.Saliency, Is.EqualTo(GradientSaliencyOptions.QwenReference));
        Assert.That(qwen.Text, Is.EqualTo(Qwen25VlProfile.Qwen7B with { MaxPositions = qwen.Text.MaxPositions }));
    }

    [Test]
    public void ProfileOf_AResearchConfigNeedsItsTower()
    {
        var e = Assert.Throws<ArgumentException>(() => VlmLoader.ProfileOf(Config("liuhaotian-llava-v1.5-7b")))!;
        Assert.That(e.Message, Does.Contain("config.json").And.Contain("vision tower"));
    }

    [TestCase("pio-11", 1 / 9.0)]
    [TestCase("pio-22", 2 / 9.0)]
    [TestCase("pio-33", 3 / 9.0)]
    [TestCase("pio-ve-11", 1 / 9.0)]
    [TestCase("pio-ve-22", 2 / 9.0)]
    [TestCase("pio-ve-33", 3 / 9.0)]
    public void NextPresets_AreTheTargetShareOfAnyImage(string name, double share)
    {
        var preset = LlavaNextProfile.Vicuna7B.Preset(name);
        // 2880: pio-11 = (2880 + 9·460 + 5·270 + 17·110) / 32 = 10240 / 32 = 320 = 2880 / 9 exactly.
        Assert.That(Average(preset, 32, 2880), Is.EqualTo(share * 2880).Within(1e-9));
        // Any other count lands within a token of the share (each budget is floored once).
        foreach (long n in new long[] { 2340, 2928, 1464 })
            Assert.That(Average(preset, 32, n), Is.EqualTo(share * n).Within(1.0), $"{name} on {n}");
    }

    [Test]
    public void NextPio11_IsTheLlavaShapeInFractions()
    {
        var stages = LlavaNextProfile.Vicuna7B.Preset("pio-11").Stages;
        Assert.That(stages.Select(s => s.AfterLayer), Is.EqualTo(new[] { 1, 10, 15 }));
        Assert.That(stages.Select(s => s.RatioOf), Is.All.EqualTo(RatioBase.Original));
        Assert.That(TokenSchedule.Build(32, 2880, 0, stages).VisualPerLayer.Distinct(), Is.EqualTo(new long[] { 2880, 460, 270, 110 }));
        var bench = LlavaNextProfile.Vicuna7B.Preset("pio-bench");
        Assert.That(bench.Stages.Select(s => (s.AfterLayer, s.Keep)), Is.EqualTo(new[] { (1, (int?)436), (10, 255), (15, 173) }), "pio-fvlm.md §5.2-5.3");
    }

    [TestCase("fastv-11", 1 / 9.0)]
    [TestCase("fastv-22", 2 / 9.0)]
    [TestCase("fastv-33", 3 / 9.0)]
    [TestCase("pdrop-11", 64 / 576.0)]
    public void NextAttentionBaselines_ScaleWithTheCount(string name, double share)
    {
        var preset = LlavaNextProfile.Vicuna7B.Preset(name);
        // FastV on 576 tokens (32 layers, K = 2) keeps 30 / 98 / 166 for 64 / 128 / 192 (spec baselines §3.4): the same
        // fractions of 2880 give averages within a token of the share times 2880.
        Assert.That(Average(preset, 32, 2880), Is.EqualTo(share * 2880).Within(name.StartsWith("pdrop") ? 10.0 : 1.0));
    }

    [Test]
    public void QwenPresets_ReferenceAndOurs()
    {
        var q = Qwen25VlProfile.Reference7B;
        Assert.That(Average(q.Preset("pio-ve-11"), 28, 1296), Is.EqualTo(143.5), "§5.4: (14·216 + 14·71) / 28");
        // model_vqa_loader defaults: 1 layer at 1296, 27 at int(0.1·1296) = 129: (1296 + 27·129) / 28 = 4779 / 28.
        Assert.That(Average(q.Preset("pio-loader"), 28, 1296), Is.EqualTo(4779 / 28.0));
        // mmbench as coded (cumulative): 1296, int(0.6003·1296) = 777, int(0.3519·777) = 273, int(0.1436·273) = 39.
        Assert.That(Average(q.Preset("pio-mmbench"), 28, 1296), Is.EqualTo((1296 + 7 * 777 + 6 * 273 + 14 * 39) / 28.0));
        foreach (var (name, share) in new[] { ("pio-11", 1 / 9.0), ("pio-22", 2 / 9.0), ("pio-33", 3 / 9.0), ("fastv-11", 1 / 9.0), ("fastv-33", 3 / 9.0) })
            Assert.That(Average(q.Preset(name), 28, 1296) / 1296, Is.EqualTo(share).Within(0.002), name);
    }

    [Test]
    public void UnknownPreset_ListsThatFamilysNames()
    {
        var e = Assert.Throws<KeyNotFoundException>(() => LlavaNextProfile.Vicuna7B.Preset("fastv-64"))!;
        Assert.That(e.Message, Does.Contain("llava-next").And.Contain("pio-11").And.Contain("fastv-11").And.Contain("pio-bench"));
    }

    [Test]
    public void PioPlan_TakesTheSaliencyOfTheProfile_UnlessGiven()
    {
        var schedule = new PruningSchedule { Name = "s", Stages = [new PruningStage { AfterLayer = 14, Ratio = 0.5 }] };
        GradientSaliencyOptions OptionsOf(PruningPlan plan) => ((GradientSaliency)((ScoreThenSelectPruner)plan.Intra!).Scorer).Options;
        Assert.That(OptionsOf(PioFvlmMethod.Create(new PioFvlmOptions { Schedule = schedule }, Qwen25VlProfile.Reference7B)),
            Is.EqualTo(GradientSaliencyOptions.QwenReference));
        Assert.That(OptionsOf(PioFvlmMethod.Create(new PioFvlmOptions { Schedule = schedule }, Llava15Profile.Reference7B)),
            Is.EqualTo(GradientSaliencyOptions.Llava));
        var own = new GradientSaliencyOptions { WindowSize = 2 };
        Assert.That(OptionsOf(PioFvlmMethod.Create(new PioFvlmOptions { Schedule = schedule, Saliency = own }, Qwen25VlProfile.Reference7B)), Is.EqualTo(own));
        // Pruning configs too: the family's probe, with the config's own keys on top.
        var fromConfig = PruningConfig.Parse("""{ "Stages": { "s": { "AfterLayer": 14, "Ratio": 0.5 } }, "Probe": "Full" }""", "t.json", Qwen25VlProfile.Reference7B);
        Assert.That(OptionsOf(fromConfig), Is.EqualTo(GradientSaliencyOptions.QwenReference with { Probe = ProbeImplementation.Full }));
    }
}
