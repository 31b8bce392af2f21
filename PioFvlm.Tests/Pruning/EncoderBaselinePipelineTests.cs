using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.PreLlm;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>
/// The encoder-side baselines (VisionZip, SCOPE, HoloV) from the registry, wired into <see cref="LlavaPipeline"/> on a
/// tiny LLaVA with LLaVA-1.5's 24 × 24 grid, through a <see cref="PruningPlan"/>; and their shipped configs.
/// </summary>
[NonParallelizable]
public class EncoderBaselinePipelineTests
{
    LlavaPipeline _pipeline = null!;

    [OneTimeSetUp]
    public void Load() => _pipeline = VScanFixtures.Pipeline();

    [OneTimeTearDown]
    public void Release() => _pipeline.Dispose();

    static PruningPlan Plan(string method, int keep) => new($"{method}-{keep}", PruningRegistry.CreatePreLlm(method, keep), null);

    [TestCase("VisionZip", 64)]
    [TestCase("VisionZip", 128)]
    [TestCase("VisionZip", 192)]
    [TestCase("SCOPE", 64)]
    [TestCase("SCOPE", 192)]
    [TestCase("HoloV", 64)]
    [TestCase("HoloV", 128)]
    [TestCase("HoloV", 192)]
    public void GenerateFeedsExactlyTheBudget(string method, int keep)
    {
        using var inputs = new LlavaInputs(VScanFixtures.PromptIds, VScanFixtures.Pixels(1, seed: 31));
        var options = new GenerationOptions { MaxNewTokens = 3, StopAtEos = false };
        var result = _pipeline.Generate(inputs, options, Plan(method, keep));
        Assert.That(result.Stats.VisualTokensBeforeReduction, Is.EqualTo(576));
        Assert.That(result.Stats.VisualTokensIn, Is.EqualTo(keep));
        Assert.That(result.Stats.PromptLength, Is.EqualTo(8 + keep));
        Assert.That(result.TokenIds, Has.Count.EqualTo(3));

        using var scope = NewDisposeScope();
        using var seq = _pipeline.BuildSequence(inputs, PruningRegistry.CreatePreLlm(method, keep)).Sequence;
        Assert.That(seq.VisualSpans, Is.EqualTo(new[] { new VisualSpan(4, keep, 0) }));
        using var plain = _pipeline.BuildSequence(inputs).Sequence;
        TensorAssert.Close(seq.Embeddings[0].narrow(0, 4 + keep, 4), plain.Embeddings[0].narrow(0, 580, 4), 0, 0, "text after the image");
    }

    [TestCase("VisionZip")]
    [TestCase("SCOPE")]
    [TestCase("HoloV")]
    public void AFullBudgetGeneratesWhatNoReducerDoes(string method)
    {
        using var inputs = new LlavaInputs(VScanFixtures.PromptIds, VScanFixtures.Pixels(1, seed: 32));
        var options = new GenerationOptions { MaxNewTokens = 4, StopAtEos = false };
        var plain = _pipeline.Generate(inputs, options);
        var full = _pipeline.Generate(inputs, options, Plan(method, 576));
        Assert.That(full.TokenIds, Is.EqualTo(plain.TokenIds));
        Assert.That(full.Stats.VisualTokensIn, Is.EqualTo(576));
    }

    [TestCase("VisionZip")]
    [TestCase("SCOPE")]
    [TestCase("HoloV")]
    public void RepeatedRunsDoNotGrowNativeMemory(string method)
    {
        using var inputs = new LlavaInputs(VScanFixtures.PromptIds, VScanFixtures.Pixels(1, seed: 33));
        var options = new GenerationOptions { MaxNewTokens = 2, StopAtEos = false };
        var plan = Plan(method, 64);
        NativeMemory.AssertNoGrowth(() => _pipeline.Generate(inputs, options, plan), 3, $"Generate with {method}");
    }

    static string ConfigPath(string name)
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir != null; dir = dir.Parent)
        {
            string path = Path.Combine(dir.FullName, "configs", "pruning", name);
            if (File.Exists(path)) return path;
        }
        Assert.Fail($"configs/pruning/{name} not found above the test folder");
        return "";
    }

    [Test]
    public void ShippedVisionZipConfigsParse()
    {
        var alone = PruningConfig.Load(ConfigPath("visionzip-64.json"));
        Assert.That(alone.PreLlm, Is.TypeOf<VisionZip>());
        Assert.That(((VisionZip)alone.PreLlm!).Budget, Is.EqualTo(64));
        Assert.That(alone.Intra, Is.Null);

        var combined = PruningConfig.Load(ConfigPath("visionzip-then-pio.json"));
        var zip = (VisionZip)combined.PreLlm!;
        Assert.That((zip.Dominant, zip.Contextual), Is.EqualTo((81, 15)));
        Assert.That(combined.Intra, Is.TypeOf<ScoreThenSelectPruner>());
    }
}
