using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.Models;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Pruning;

/// <summary>FastV and PDrop through <c>PruningConfig.Parse</c> and the LLaVA pipeline on the tiny model (49 visual
/// tokens, 2 decoder layers, so every stage is after layer 1; FastV then reads layer 0 on the embeddings).</summary>
[NonParallelizable]
public class FastVPDropLlavaTests
{
    static readonly GenerationOptions FiveTokens = new() { MaxNewTokens = 5, StopAtEos = false };

    static GenerationResult Run(LlavaPipeline pipeline, PruningPlan plan)
    {
        using var inputs = pipeline.Prepare(pipeline.FormatPrompt("What is shown?"), [LlavaTestModels.Image()], FiveTokens.MaxNewTokens);
        return pipeline.Generate(inputs, FiveTokens, plan);
    }

    [TestCase("FastV", 10, PositionPolicy.KeepOriginal)]
    [TestCase("FastV", 1, PositionPolicy.KeepOriginal)]
    [TestCase("PDrop", 10, PositionPolicy.Compact)]
    [TestCase("PDrop", 30, PositionPolicy.Compact)]
    public void PrunesToTheBudgetAndGenerates(string method, int keep, PositionPolicy positions)
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir);
        var plan = PruningConfig.Parse($$"""{ "Method": "{{method}}", "Stages": { "s": { "AfterLayer": 1, "Keep": {{keep}} } } }""", "test");
        Assert.That(plan.Positions, Is.EqualTo(positions));
        var result = Run(pipeline, plan);
        Assert.That(result.Stats.VisualTokensIn, Is.EqualTo(LlavaTestModels.ImageTokens));
        Assert.That(result.Stats.VisualTokensOut, Is.EqualTo(keep));
        Assert.That(result.TokenIds, Has.Count.EqualTo(5));
        var report = result.Stats.Stages.Single();
        Assert.That((report.VisualBefore, report.VisualAfter, report.FallbackUsed), Is.EqualTo((49L, (long)keep, false)));
    }

    [TestCase("FastV")]
    [TestCase("PDrop")]
    public void RepeatedGenerationIsDeterministicAndDoesNotLeak(string method)
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir);
        var plan = PruningConfig.Parse($$"""{ "Method": "{{method}}", "Stages": { "s": { "AfterLayer": 1, "Keep": 8 } } }""", "test");
        var first = Run(pipeline, plan).TokenIds;
        NativeMemory.AssertNoGrowth(() => Assert.That(Run(pipeline, plan).TokenIds, Is.EqualTo(first)), repeats: 2, what: $"{method} Generate");
    }

    [TestCase("FastV")]
    [TestCase("PDrop")]
    public void KeepingEveryTokenGivesTheUnprunedTokens(string method)
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir);
        var unpruned = Run(pipeline, PruningPlan.None);
        var keepAll = Run(pipeline, PruningConfig.Parse($$"""{ "Method": "{{method}}", "Stages": { "s": { "AfterLayer": 1, "Keep": 49 } } }""", "test"));
        Assert.That(keepAll.TokenIds, Is.EqualTo(unpruned.TokenIds));
    }
}
