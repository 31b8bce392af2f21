using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.Models;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>DivPrune through <see cref="PruningConfig"/> and <see cref="LlavaPipeline"/> on the tiny LLaVA (49 visual tokens).</summary>
[NonParallelizable]
public class DivPrunePipelineTests
{
    static readonly GenerationOptions FiveTokens = new() { MaxNewTokens = 5, StopAtEos = false };

    static VlmInputs Inputs(LlavaPipeline pipeline) =>
        pipeline.Prepare(pipeline.FormatPrompt("What is shown?"), [LlavaTestModels.Image()], FiveTokens.MaxNewTokens);

    [TestCase(1)]
    [TestCase(10)]
    [TestCase(48)]
    [TestCase(64)]
    public void ConfigPlanKeepsTheBudgetAndGenerates(int keep)
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir);
        var plan = PruningConfig.Parse($$"""{ "Stages": { "pre": { "Method": "DivPrune", "Keep": {{keep}} } } }""", "test");
        using var inputs = Inputs(pipeline);
        var result = pipeline.Generate(inputs, FiveTokens, plan);
        Assert.That(result.Stats.VisualTokensBeforeReduction, Is.EqualTo(LlavaTestModels.ImageTokens));
        Assert.That(result.Stats.VisualTokensIn, Is.EqualTo(Math.Min(keep, LlavaTestModels.ImageTokens)));
        Assert.That(result.Stats.VisualTokensOut, Is.EqualTo(Math.Min(keep, LlavaTestModels.ImageTokens)));
        Assert.That(result.TokenIds, Has.Count.EqualTo(5));
    }

    [Test]
    public void SplicedRowsAreTheBruteForcePicksInRasterOrder()
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir, seed: 2);
        var plan = PruningConfig.Parse("""{ "Method": "DivPrune", "PreLlmKeep": 12 }""", "test");
        using var inputs = Inputs(pipeline);
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        var features = pipeline.Model.EncodeImages(inputs.PixelValues!)[0].to(ScalarType.Float64);
        int n = (int)features.shape[0], width = (int)features.shape[1];
        var flat = features.data<double>().ToArray();
        var rows = Enumerable.Range(0, n).Select(r => flat.Skip(r * width).Take(width).ToArray()).ToArray();
        var (order, margin) = DivPruneReference.Greedy(rows, 12);
        Assert.That(margin, Is.GreaterThan(1e-5), "no float32 near-tie in this image");
        var expected = order.Order().ToArray();

        using var sequence = pipeline.BuildSequence(inputs, plan.PreLlm).Sequence;
        var span = sequence.VisualSpans.Single();
        Assert.That(span.Length, Is.EqualTo(12));
        var spliced = sequence.Embeddings[0].narrow(0, span.Start, 12).to(ScalarType.Float64);
        var want = features.index_select(0, tensor(expected.Select(i => (long)i).ToArray()));
        TensorAssert.Close(spliced, want, atol: 0, rtol: 0, what: "DivPrune rows spliced into the sequence");
    }

    [Test]
    public void IntraVariantPrunesAtTheStage()
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir);
        var plan = PruningConfig.Parse("""{ "Method": "DivPruneLlm", "Stages": { "s1": { "AfterLayer": 1, "Keep": 9 } } }""", "test");
        using var inputs = Inputs(pipeline);
        var result = pipeline.Generate(inputs, FiveTokens, plan);
        Assert.That((result.Stats.VisualTokensIn, result.Stats.VisualTokensOut), Is.EqualTo((49L, 9L)));
        Assert.That(result.TokenIds, Has.Count.EqualTo(5));
    }

    [Test]
    public void RepeatedRunsAreDeterministicAndDoNotGrowNativeMemory()
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir);
        var plan = PruningConfig.Load(ShippedConfig("divprune-64.json"));
        var small = PruningConfig.Parse("""{ "Stages": { "pre": { "Method": "DivPrune", "Keep": 7 } } }""", "test");
        using var inputs = Inputs(pipeline);
        var first = pipeline.Generate(inputs, FiveTokens, small).TokenIds;
        NativeMemory.AssertNoGrowth(() =>
        {
            Assert.That(pipeline.Generate(inputs, FiveTokens, small).TokenIds, Is.EqualTo(first));
            pipeline.Generate(inputs, FiveTokens, plan);
        }, repeats: 2, what: "Generate with DivPrune");
    }

    internal static string ShippedConfig(string name)
    {
        for (var d = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); d != null; d = d.Parent)
        {
            string path = Path.Combine(d.FullName, "configs", "pruning", name);
            if (File.Exists(path)) return path;
        }
        Assert.Fail($"configs/pruning/{name} not found above the test folder");
        return "";
    }
}
