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
}
