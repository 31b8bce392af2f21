using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Dart;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.CommandLine;
using PioFvlm.Tests.Models;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Pruning;

/// <summary>DART through <see cref="PruningConfig"/> and <see cref="LlavaPipeline"/> on the tiny LLaVA (49 visual
/// tokens, 2 layers: K = 1, so the pivot keys come from layer 0 on the embeddings).</summary>
[NonParallelizable]
public class DartPipelineTests
{
    static readonly GenerationOptions FiveTokens = new() { MaxNewTokens = 5, StopAtEos = false };

    static GenerationResult Run(LlavaPipeline pipeline, PruningPlan plan)
    {
        using var inputs = pipeline.Prepare(pipeline.FormatPrompt("What is shown?"), [LlavaTestModels.Image()], FiveTokens.MaxNewTokens);
        return pipeline.Generate(inputs, FiveTokens, plan);
    }

    static PruningPlan Plan(int keep) =>
        PruningConfig.Parse($$"""{ "Method": "DART", "Stages": { "s1": { "AfterLayer": 1, "Keep": {{keep}} } } }""", "test");

    [TestCase(0, 4)]
    [TestCase(8, 12)]
    [TestCase(16, 20)]
    [TestCase(23, 20)]
    [TestCase(40, 44)]
    public void VisualCountAfterTheStageFollowsTheRule(int keep, int expected)
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir);
        var plan = Plan(keep);
        var result = Run(pipeline, plan);
        Assert.That(result.Stats.VisualTokensIn, Is.EqualTo(LlavaTestModels.ImageTokens));
        Assert.That(result.Stats.VisualTokensOut, Is.EqualTo(expected), "4 + 8·⌊B/8⌋");
        Assert.That(result.TokenIds, Has.Count.EqualTo(5));
        var report = result.Stats.Stages.Single();
        Assert.That((report.AfterLayer, report.VisualBefore, report.VisualAfter), Is.EqualTo((1, 49L, (long)expected)));
        Assert.That(report.KeptLocalIndices, Is.Ordered.Ascending);
        // Layer 0 holds the full prompt, layer 1 the pruned one (K and V, 4 kv heads, head dim 8, float32).
        long full = result.Stats.PromptLength, pruned = full - (49 - expected);
        Assert.That(result.Stats.KvCacheBytes, Is.EqualTo((full + pruned) * 2L * 4 * 8 * 4));
    }

    [Test]
    public void BudgetCoveringTheImageGivesTheUnprunedTokens()
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir);
        var unpruned = Run(pipeline, new PruningPlan("none", null, null, PositionPolicy.KeepOriginal));
        var all = Run(pipeline, Plan(48));   // 4 + 48 ≥ 49
        Assert.That(all.Stats.VisualTokensOut, Is.EqualTo(49));
        Assert.That(all.TokenIds, Is.EqualTo(unpruned.TokenIds));
    }

    [Test]
    public void RepeatedGenerationIsDeterministicAndDoesNotLeak()
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir);
        var plan = Plan(8);
        var first = Run(pipeline, plan).TokenIds;
        NativeMemory.AssertNoGrowth(() => Assert.That(Run(pipeline, plan).TokenIds, Is.EqualTo(first)), repeats: 2, what: "Generate with DART");
    }

    [Test]
    public void CliReportsTheDartStage()
    {
        using var dir = new TempDir();
        string png = LlavaTestModels.WritePng(dir.File("img.png"));
        string model = Path.Combine(dir.Path, "model");
        Assert.That(CliRunner.Run("make-tiny", "--out", model, "--tokenizer", LlavaTestModels.Llama2TokenizerDir).ExitCode, Is.EqualTo(0));
        string config = dir.File("dart.json");
        File.WriteAllText(config, """{ "Method": "DART", "Stages": { "s1": { "AfterLayer": 1, "Keep": 16 } } }""");
        var (rc, stdout, stderr) = CliRunner.Run("generate", "--model", model, "--image", png, "--prompt", "Hi", "--max-new-tokens", "3", "--pruning", config);
        Assert.That(rc, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("after layer 1   49 -> 20 visual tokens"));
        Assert.That(stdout, Does.Contain("visual tokens   49 in, 20 out"));
    }
}
