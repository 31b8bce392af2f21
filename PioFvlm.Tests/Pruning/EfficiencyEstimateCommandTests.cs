using System.Text.Json.Nodes;
using PioFvlm.Bench;
using PioFvlm.Bench.Commands;
using PioFvlm.Core.Pruning.Efficiency;
using PioFvlm.Models;

namespace PioFvlm.Tests.Pruning;

/// <summary>The <c>pio-fvlm estimate</c> command: text and JSON output, presets, config files and argument errors.</summary>
public sealed class EfficiencyEstimateCommandTests
{
    static (int Code, string Output) Run(params string[] args)
    {
        var w = new StringWriter();
        int code = EstimateCommand.Run(args, w);
        return (code, w.ToString());
    }

    [Test]
    public void Table_ShowsRunsAveragesFlopsAndKv()
    {
        var (code, text) = Run("--model", "llava-1.5-7b", "--stages", "1:218,10:128,15:54");
        Assert.That(code, Is.Zero);
        Assert.That(text, Does.Contain("unpruned 32×576"));
        Assert.That(text, Does.Contain("pruned   1×576, 9×218, 5×128, 17×54"));
        Assert.That(text, Does.Contain("128.0"));
        Assert.That(text, Does.Contain("2.986 T"));
        Assert.That(text, Does.Contain("318.0 MiB"));
        Assert.That(text, Does.Contain("probe FLOPs, cheap"));
    }

    [Test]
    public void Json_ParsesAndHoldsTheFields()
    {
        var (code, text) = Run("--model", "llava-1.5-7b", "--schedule", "pio-ve-11", "--json");
        Assert.That(code, Is.Zero);
        var root = JsonNode.Parse(text)!.AsObject();
        Assert.That((int)root["model"]!["layers"]!, Is.EqualTo(32));
        Assert.That((long)root["text_tokens"]!, Is.EqualTo(EstimateCommand.DefaultTextTokens));
        var unpruned = root["unpruned"]!;
        var pruned = root["pruned"]!;
        Assert.That((long)unpruned["flops_paper"]!, Is.EqualTo(32 * 93_314_875_392L));
        Assert.That((long)unpruned["kv_bytes"]!, Is.EqualTo(318L << 20));
        Assert.That((long)pruned["kv_bytes"]!, Is.EqualTo(62L << 20));
        var visual = pruned["visual_per_layer"]!.AsArray().Select(n => (long)n!).ToArray();
        Assert.That(visual, Is.EqualTo(Enumerable.Repeat(96L, 16).Concat(Enumerable.Repeat(32L, 16))));
        Assert.That(pruned["sequence_per_layer"]!.AsArray().Select(n => (long)n!), Is.EqualTo(visual.Select(v => v + 60)));
        Assert.That((double)pruned["average_visual_tokens"]!, Is.EqualTo(64));
        Assert.That((long)pruned["flops_exact"]!, Is.GreaterThan((long)pruned["flops_paper"]!));
        Assert.That(pruned["probe_flops_cheap"], Is.Not.Null);
        Assert.That((double)root["ratios"]!["kv_reduction"]!, Is.EqualTo(318.0 / 62).Within(1e-12));
        Assert.That((int)root["schedule"]!["pre_llm_keep"]!, Is.EqualTo(96));
    }

    [Test]
    public void NoSchedule_ReportsOnlyTheUnprunedRun()
    {
        var root = JsonNode.Parse(Run("--model", "llava-next-7b", "--visual", "2340", "--text", "0", "--json").Output)!;
        Assert.That(root["pruned"], Is.Null);
        Assert.That((long)root["unpruned"]!["kv_bytes"]!, Is.EqualTo(2340L * 512 * 1024));
    }

    [TestCase("", "empty")]
    [TestCase("1-218", "not of the form r:keep")]
    [TestCase("1:218,x:5", "layer 'x'")]
    [TestCase("1:abc", "keep 'abc'")]
    [TestCase("10:128,1:218", "does not come after")]
    [TestCase("1:1.5", "fraction '1.5'")]
    [TestCase("32:10", "AfterLayer = 32")]
    public void BadStages_AreUsageErrors_Exit2(string stages, string message)
    {
        var e = Assert.Throws<UsageException>(() => Run("--model", "llava-1.5-7b", "--stages", stages));
        Assert.That(e!.Message, Does.Contain(message));
        Assert.That(Cli.Run(["estimate", "--model", "llava-1.5-7b", "--stages", stages]), Is.EqualTo(2));
    }

    [Test]
    public void OtherArgumentErrors_AreUsageErrors()
    {
        Assert.That(Assert.Throws<UsageException>(() => Run("--model", "llava-1.5-7b", "--schedule", "pio-11", "--stages", "1:5"))!.Message,
            Does.Contain("not both"));
        Assert.That(Assert.Throws<UsageException>(() => Run("--model", "llava-1.5-7b", "--schedule", "nope"))!.Message,
            Does.Contain("pio-22"));
        Assert.That(Assert.Throws<UsageException>(() => Run("--model", "no-such-model"))!.Message, Does.Contain("qwen2.5-vl-7b"));
        Assert.That(Assert.Throws<UsageException>(() => Run("--model", "llava-1.5-7b", "--dtype", "int3"))!.Message, Does.Contain("--dtype"));
        Assert.That(Assert.Throws<UsageException>(() => Run("--schedule", "pio-11"))!.Message, Does.Contain("--model is required"));
    }

    [Test]
    public void ConfigPath_GivesTheSameDecoderAsThePreset()
    {
        string dir = Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "configs");
        var qwen = EstimateCommand.ResolveModel(Path.Combine(dir, "Qwen2.5-VL-7B-Instruct", "config.json"));
        Assert.That(qwen.Text, Is.EqualTo(ModelProfiles.Find("qwen2.5-vl-7b")!.Text with { MaxPositions = qwen.Text.MaxPositions }));
        var llava = EstimateCommand.ResolveModel(Path.Combine(dir, "llava-1.5-7b-hf"));
        Assert.That(llava.Text with { MaxPositions = 0, RmsNormEps = 0 }, Is.EqualTo(ModelProfiles.Find("llava-1.5-7b")!.Text with { MaxPositions = 0, RmsNormEps = 0 }));
        Assert.That(llava.NominalVisualTokens, Is.EqualTo(576));
        var mistral = EstimateCommand.ResolveModel(Path.Combine(dir, "llava-v1.6-mistral-7b-hf"));
        Assert.That(mistral.Text.NumKvHeads, Is.EqualTo(8));
        Assert.That(mistral.Text.IntermediateSize, Is.EqualTo(14336));
        Assert.That(mistral.NominalVisualTokens, Is.EqualTo(2880));
    }

    [Test]
    public void NextPio11_IsElevenPercentOfNextsOwnCount()
    {
        // Before profiles, LLaVA-1.5's [92,54,22] were applied to 2880 tokens: 4.7 %. Now NeXT's own pio-11:
        // 1×2880, 9×460, 5×270, 17×110 → 10240 / 32 = 320 = 11.1 % of 2880.
        var root = JsonNode.Parse(Run("--model", "llava-next-7b", "--schedule", "pio-11", "--json").Output)!;
        var visual = root["pruned"]!["visual_per_layer"]!.AsArray().Select(n => (long)n!).ToArray();
        Assert.That(visual.Distinct(), Is.EqualTo(new long[] { 2880, 460, 270, 110 }));
        Assert.That((double)root["pruned"]!["average_visual_tokens"]!, Is.EqualTo(320));
        Assert.That((double)root["ratios"]!["visual_token_retention"]!, Is.EqualTo(1 / 9.0).Within(1e-12));
        Assert.That((string)root["model"]!["family"]!, Is.EqualTo("llava-next"));
        Assert.That(Run("--model", "llava-next-7b", "--schedule", "pio-11").Output, Does.Contain("11.1 %"));
    }

    [TestCase("llava-next-7b", "640x480", 2340L)]
    [TestCase("llava-next-7b", "300x200", 1464L)]
    [TestCase("llava-next-7b", "672x672", 2928L)]
    [TestCase("qwen2.5-vl-7b", "1008x1008", 1296L)]
    [TestCase("llava-1.5-7b", "640x480", 576L)]
    public void Image_GivesTheFamilysVisualCount(string model, string image, long visual)
    {
        var root = JsonNode.Parse(Run("--model", model, "--image", image, "--json").Output)!;
        Assert.That((long)root["visual_tokens"]!, Is.EqualTo(visual), "llava.md §5.4, pio-fvlm.md §5.4");
        Assert.That(((int)root["image"]!["width"]!, (int)root["image"]!["height"]!), Is.EqualTo((int.Parse(image.Split('x')[0]), int.Parse(image.Split('x')[1]))));
    }

    [Test]
    public void NextWithAnImage_ScalesThePresetToThatImage()
    {
        // 640×480 → 2340: ⌊2340·92/576⌋ = ⌊373.75⌋ = 373, ⌊2340·54/576⌋ = ⌊219.375⌋ = 219, ⌊2340·22/576⌋ = ⌊89.375⌋ = 89.
        var root = JsonNode.Parse(Run("--model", "llava-next-7b", "--image", "640x480", "--schedule", "pio-11", "--json").Output)!;
        var visual = root["pruned"]!["visual_per_layer"]!.AsArray().Select(n => (long)n!).Distinct();
        Assert.That(visual, Is.EqualTo(new long[] { 2340, 373, 219, 89 }));
    }

    [Test]
    public void QwenReferencePreset_ResolvesItsPreLlmRatio()
    {
        var root = JsonNode.Parse(Run("--model", "qwen2.5-vl-7b", "--schedule", "pio-ve-11", "--json").Output)!;
        Assert.That((double)root["pruned"]!["average_visual_tokens"]!, Is.EqualTo(143.5), "pio-fvlm.md §5.4");
        Assert.That((double)root["schedule"]!["pre_llm_ratio"]!, Is.EqualTo(0.167));
    }

    [Test]
    public void UnknownPresetForAFamily_IsAUsageErrorListingThatFamilysPresets()
    {
        var e = Assert.Throws<UsageException>(() => Run("--model", "llava-next-7b", "--schedule", "fastv-64"))!;
        Assert.That(e.Message, Does.Contain("unknown schedule preset 'fastv-64' for llava-next").And.Contain("fastv-11").And.Contain("pio-bench"));
        Assert.That(Cli.Run(["estimate", "--model", "qwen2.5-vl-7b", "--schedule", "pio-bench"]), Is.EqualTo(2));
    }

    [TestCase("640", "WIDTHxHEIGHT")]
    [TestCase("0x480", "WIDTHxHEIGHT")]
    [TestCase("10x10", "shorter than the factor")]
    public void BadImages_AreUsageErrors(string image, string message)
    {
        var e = Assert.Throws<UsageException>(() => Run("--model", "qwen2.5-vl-7b", "--image", image))!;
        Assert.That(e.Message, Does.Contain(message));
        Assert.That(Assert.Throws<UsageException>(() => Run("--model", "qwen2.5-vl-7b", "--image", "28x28", "--visual", "5"))!.Message, Does.Contain("not both"));
    }
}
