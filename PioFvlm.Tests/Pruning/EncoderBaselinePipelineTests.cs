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
        using var inputs = new VlmInputs(VScanFixtures.PromptIds, VScanFixtures.Pixels(1, seed: 31), 1);
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
        using var inputs = new VlmInputs(VScanFixtures.PromptIds, VScanFixtures.Pixels(1, seed: 32), 1);
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
        using var inputs = new VlmInputs(VScanFixtures.PromptIds, VScanFixtures.Pixels(1, seed: 33), 1);
        var options = new GenerationOptions { MaxNewTokens = 2, StopAtEos = false };
        var plan = Plan(method, 64);
        NativeMemory.AssertNoGrowth(() => _pipeline.Generate(inputs, options, plan), 3, $"Generate with {method}");
    }

    /// <summary>
    /// The spliced visual rows against each method's brute-force reference run on signals taken by other paths than
    /// the one-pass tower: <see cref="ClipVisionTower.HiddenStates"/> (hidden state 7 = output of layer 6 = −2 of 8),
    /// <see cref="ClipVisionTower.ClsAttention(Tensor, int)"/> and the layer's keys of layer 6, the unreduced
    /// <see cref="LlavaForConditionalGeneration.EncodeImages(Tensor)"/>; the projector maps VisionZip's rows.
    /// </summary>
    [TestCase("VisionZip", 64)]
    [TestCase("SCOPE", 64)]
    [TestCase("HoloV", 64)]
    [TestCase("VisionZip", 192)]
    public void SplicedRowsMatchTheBruteForceOnTheModelsOwnSignals(string method, int keep)
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        var pixels = VScanFixtures.Pixels(1, seed: 34);
        using var inputs = new VlmInputs(VScanFixtures.PromptIds, pixels.clone(), 1);
        using var seq = _pipeline.BuildSequence(inputs, PruningRegistry.CreatePreLlm(method, keep)).Sequence;
        var actual = seq.Embeddings[0].narrow(0, 4, keep);

        var model = _pipeline.Model;
        var states = model.VisionTower.HiddenStates(pixels, 7);
        var cls = model.VisionTower.ClsAttention(pixels, 6)[0].narrow(-1, 1, 576);
        var keys = model.VisionTower.VisionModel.Encoder[6].Keys(states[6])[0];
        var features = model.EncodeImages(pixels)[0];
        double[][][] Blocks(Tensor t) => Enumerable.Range(0, (int)t.shape[0]).Select(h => EncoderSignalData.Rows(t[h])).ToArray();
        var data = new EncoderSignalData
        {
            Grid = 24,
            Cls = EncoderSignalData.Rows(cls),
            Keys = Blocks(keys),
            Hidden = EncoderSignalData.Rows(states[7][0]),
            W = Enumerable.Range(0, 32).Select(r => Enumerable.Range(0, 32).Select(c => r == c ? 1.0 : 0.0).ToArray()).ToArray(),
        };
        Tensor expected;
        switch (method)
        {
            case "VisionZip":
                var zip = VisionZip.ForBudget(keep);
                var (rows, _) = VisionZipTests.Reference(data, zip.Dominant, zip.Contextual);
                expected = model.Projector.forward(EncoderSignalData.ToTensor(rows));
                break;
            case "SCOPE":
                expected = features.index_select(0, tensor(ScopeTests.Reference(data, keep)));
                break;
            default:
                var a = Enumerable.Range(0, 576).Select(j => data.Cls.Average(h => h[j])).ToArray();
                var kept = HoloVTests.Reference(EncoderSignalData.Rows(features), a, keep, HoloV.CropsFor(576, keep));
                Assert.That(kept, Does.Not.Contain(-1L), "this image needs no padding");
                expected = features.index_select(0, tensor(kept));
                break;
        }
        TensorAssert.Close(actual, expected, 1e-4, 1e-4, $"{method} {keep} spliced rows");
    }

    [TestCase("VisionZip")]
    [TestCase("SCOPE")]
    [TestCase("HoloV")]
    public void AnEncoderStageThenPioInsideTheLlmRuns(string method)
    {
        // The paper's "w/ VE" shape (VisionZip 96 before the LLM, PIO to 32 inside it) on the 2-layer tiny decoder.
        var plan = PruningConfig.Parse($$"""
            { "Stages": { "ve": { "Method": "{{method}}", "Keep": 96 }, "llm": { "Method": "PioFvlm", "AfterLayer": 1, "Keep": 32 } } }
            """, "test");
        using var inputs = new VlmInputs(VScanFixtures.PromptIds, VScanFixtures.Pixels(1, seed: 35), 1);
        var result = _pipeline.Generate(inputs, new GenerationOptions { MaxNewTokens = 2, StopAtEos = false }, plan);
        Assert.That(result.Stats.VisualTokensBeforeReduction, Is.EqualTo(576));
        Assert.That(result.Stats.VisualTokensIn, Is.EqualTo(96));
        Assert.That(result.Stats.VisualTokensOut, Is.EqualTo(32));
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
