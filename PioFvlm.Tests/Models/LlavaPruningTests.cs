using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.CommandLine;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Models;

/// <summary>PIO-FVLM through the LLaVA pipeline and the CLI, on the tiny model (49 visual tokens, 2 layers).</summary>
[NonParallelizable]
public class LlavaPruningTests
{
    static readonly GenerationOptions SixTokens = new() { MaxNewTokens = 6, StopAtEos = false };

    static GenerationResult Run(LlavaPipeline pipeline, PruningPlan plan)
    {
        using var inputs = pipeline.Prepare(pipeline.FormatPrompt("What is shown?"), [LlavaTestModels.Image()], SixTokens.MaxNewTokens);
        return pipeline.Generate(inputs, SixTokens, plan);
    }

    [Test]
    public void PioPlanPrunesToTheBudgetAndReportsTheStage()
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir);
        var plan = PruningConfig.Parse("""{ "Stages": { "s1": { "AfterLayer": 1, "Keep": 12 } } }""", "test");
        var result = Run(pipeline, plan);
        Assert.That(result.Stats.VisualTokensIn, Is.EqualTo(LlavaTestModels.ImageTokens));
        Assert.That(result.Stats.VisualTokensOut, Is.EqualTo(12));
        Assert.That(result.Stats.PruningMs, Is.GreaterThan(0));
        Assert.That(result.TokenIds, Has.Count.EqualTo(6));
        var report = result.Stats.Stages.Single();
        Assert.That((report.AfterLayer, report.VisualBefore, report.VisualAfter, report.FallbackUsed), Is.EqualTo((1, 49L, 12L, false)));
        Assert.That(report.KeptLocalIndices, Is.Ordered.Ascending);
        // The KV cache after prefill holds the full prompt in layer 0 and the pruned prompt in layer 1.
        long full = result.Stats.PromptLength, pruned = full - (49 - 12);
        long bytesPerPosition = 2L * 4 * 8 * 4; // K and V, 4 kv heads, head dim 8, float32
        Assert.That(result.Stats.KvCacheBytes, Is.EqualTo((full + pruned) * bytesPerPosition));
    }

    [Test]
    public void BudgetAtTheVisualCountGivesTheUnprunedTokens()
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir);
        var unpruned = Run(pipeline, PruningPlan.None);
        var keepAll = Run(pipeline, PruningConfig.Parse("""{ "Stages": { "s1": { "AfterLayer": 1, "Keep": 49 } } }""", "test"));
        Assert.That(keepAll.TokenIds, Is.EqualTo(unpruned.TokenIds));
        Assert.That(keepAll.Stats.VisualTokensOut, Is.EqualTo(49));
    }

    [Test]
    public void RepeatedPrunedGenerationIsDeterministicAndDoesNotLeak()
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir);
        var plan = PruningConfig.Parse("""{ "Stages": { "s1": { "AfterLayer": 1, "Keep": 7 } } }""", "test");
        var first = Run(pipeline, plan).TokenIds;
        NativeMemory.AssertNoGrowth(() => Assert.That(Run(pipeline, plan).TokenIds, Is.EqualTo(first)), repeats: 2, what: "pruned Generate");
    }

    [Test]
    public void CliRunsAPruningFileAndRejectsAScheduleThatDoesNotFitTheModel()
    {
        using var dir = new TempDir();
        string png = LlavaTestModels.WritePng(dir.File("img.png"));
        string model = Path.Combine(dir.Path, "model");
        Assert.That(CliRunner.Run("make-tiny", "--out", model, "--tokenizer", LlavaTestModels.Llama2TokenizerDir).ExitCode, Is.EqualTo(0));
        string config = dir.File("prune.json");
        File.WriteAllText(config, """{ "Method": "PioFvlm", "Stages": { "s1": { "AfterLayer": 1, "Keep": 10 } } }""");

        var (rc, stdout, stderr) = CliRunner.Run("generate", "--model", model, "--image", png, "--prompt", "Hi", "--max-new-tokens", "3", "--pruning", config);
        Assert.That(rc, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("after layer 1   49 -> 10 visual tokens"));
        Assert.That(stdout, Does.Contain("visual tokens   49 in, 10 out"));

        (rc, _, stderr) = CliRunner.Run("generate", "--model", model, "--image", png, "--prompt", "Hi", "--schedule", "pio-11");
        Assert.That(rc, Is.EqualTo(1));
        Assert.That(stderr, Does.Contain("AfterLayer = 10 is outside 1..1 for a 2-layer decoder"));
    }
}
