using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.SparseVlm;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.Models;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Pruning;

/// <summary>SparseVLM through the registry, the JSON config and the tiny LLaVA pipeline (49 visual tokens, 2 layers).</summary>
[NonParallelizable]
public class SparseVlmPipelineTests
{
    static readonly GenerationOptions SixTokens = new() { MaxNewTokens = 6, StopAtEos = false };
    const string OneStage = """{ "Method": "SparseVLM", "Stages": { "l0": { "AfterLayer": 1, "Keep": 12 } } }""";

    static GenerationResult Run(LlavaPipeline pipeline, PruningPlan plan)
    {
        using var inputs = pipeline.Prepare(pipeline.FormatPrompt("What is shown in the picture?"), [LlavaTestModels.Image()], SixTokens.MaxNewTokens);
        return pipeline.Generate(inputs, SixTokens, plan);
    }

    static string RepoFile(params string[] parts)
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir != null; dir = dir.Parent)
        {
            string path = Path.Combine([dir.FullName, .. parts]);
            if (File.Exists(path)) return path;
        }
        Assert.Fail($"{Path.Combine(parts)} not found above the test folder");
        return "";
    }

    [Test]
    public void TheShippedConfigIsTheV15ScheduleForSixtyFour()
    {
        var plan = PruningConfig.Load(RepoFile("configs", "pruning", "sparsevlm-64.json"));
        var pruner = plan.Intra as SparseVlmPruner;
        Assert.That(pruner, Is.Not.Null);
        Assert.That(pruner!.Schedule.Stages.Select(s => (s.AfterLayer, s.Keep)),
                    Is.EqualTo(SparseVlmSchedules.V15Keep64.Stages.Select(s => (s.AfterLayer, s.Keep))));
        Assert.That((plan.PreLlm, plan.Positions, pruner.Recycle), Is.EqualTo(((IPreLlmReducer?)null, PositionPolicy.Compact, true)));
    }

    [Test]
    public void TheRegistryBuildsSparseVlmAsAWholePrunerOnly()
    {
        Assert.That(PruningRegistry.Get("SparseVLM").Kind, Is.EqualTo(PruningMethodKind.IntraLlm));
        Assert.That(PruningRegistry.IsWholePruner("SparseVLM") && !PruningRegistry.IsWholePruner("PioFvlm"));
        Assert.That(PruningRegistry.CreatePruner("SparseVLM", SparseVlmSchedules.V15Keep128), Is.InstanceOf<SparseVlmPruner>());
        Assert.Throws<ArgumentException>(() => PruningRegistry.CreateIntra("SparseVLM", new IntraMethodSettings()));
        Assert.Throws<ArgumentException>(() => PruningRegistry.CreatePruner("PioFvlm", SparseVlmSchedules.V15Keep128));
        var e = Assert.Throws<FormatException>(() => PruningConfig.Parse(
            """{ "Method": "SparseVLM", "Stages": { "a": { "AfterLayer": 3, "Keep": 66 }, "b": { "Method": "PioFvlm", "AfterLayer": 7, "Keep": 30 } } }""", "mix.json"))!;
        Assert.That(e.Message, Does.Contain("mix.json").And.Contain("SparseVLM").And.Contain("PioFvlm"));
    }

    [Test]
    public void GenerateOnTheTinyLlavaPrunesAtLayerZeroAndRecycles()
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir);
        var plan = PruningConfig.Parse(OneStage, "test");
        var result = Run(pipeline, plan);
        // 49 → keep 12; 37 dropped → floor(11.1)+1 = 12 recycled candidates → 12/10+1 = 2 merged tokens.
        var report = (SparseVlmStageReport)result.Stats.Stages.Single();
        Assert.That((report.Layer, report.VisualBefore, report.KeptLocalIndices.Count, report.Recycled, report.VisualAfter), Is.EqualTo((0, 49L, 12, 2, 14L)));
        Assert.That(report.Raters, Is.GreaterThan(0));
        Assert.That(result.Stats.VisualTokensIn, Is.EqualTo(49));
        Assert.That(result.Stats.VisualTokensOut, Is.EqualTo(14));
        Assert.That(result.TokenIds, Has.Count.EqualTo(6));
        long full = result.Stats.PromptLength, pruned = full - 49 + 14;
        long bytesPerPosition = 2L * 4 * 8 * 4; // K and V, 4 kv heads, head dim 8, float32
        Assert.That(result.Stats.KvCacheBytes, Is.EqualTo((full + pruned) * bytesPerPosition));
    }

    [Test]
    public void RepeatedGenerationIsDeterministicAndDoesNotLeak()
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir);
        var plan = PruningConfig.Parse(OneStage, "test");
        var first = Run(pipeline, plan).TokenIds;
        NativeMemory.AssertNoGrowth(() => Assert.That(Run(pipeline, plan).TokenIds, Is.EqualTo(first)), repeats: 2, what: "SparseVLM Generate");
    }
}
