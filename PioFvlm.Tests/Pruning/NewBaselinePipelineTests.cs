using System.Diagnostics;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.PreLlm;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>
/// CDPruner, VisPruner, HiPrune and Downsample from the registry on a tiny LLaVA with LLaVA-1.5's 24 × 24 grid (8 CLIP
/// layers), at the 64 / 128 / 192 presets, and the model-side signals they add (received attention, instruction rows).
/// </summary>
[NonParallelizable]
public class NewBaselinePipelineTests
{
    LlavaPipeline _pipeline = null!;

    [OneTimeSetUp]
    public void Load() => _pipeline = VScanFixtures.Pipeline();

    [OneTimeTearDown]
    public void Release() => _pipeline.Dispose();

    static PruningPlan Plan(string method, int keep) => new($"{method}-{keep}", PruningRegistry.CreatePreLlm(method, keep), null);

    static int Expected(string method, int keep) => method == "Downsample" ? keep switch { 64 => 64, 128 => 121, _ => 196 } : keep;

    [TestCase("CDPruner", 64)]
    [TestCase("CDPruner", 128)]
    [TestCase("CDPruner", 192)]
    [TestCase("VisPruner", 64)]
    [TestCase("VisPruner", 128)]
    [TestCase("VisPruner", 192)]
    [TestCase("HiPrune", 64)]
    [TestCase("HiPrune", 128)]
    [TestCase("HiPrune", 192)]
    [TestCase("Downsample", 64)]
    [TestCase("Downsample", 128)]
    [TestCase("Downsample", 192)]
    public void GenerateFeedsThePresetsBudget(string method, int keep)
    {
        using var inputs = new VlmInputs(VScanFixtures.PromptIds, VScanFixtures.Pixels(1, seed: 41), 1);
        var result = _pipeline.Generate(inputs, new GenerationOptions { MaxNewTokens = 3, StopAtEos = false }, Plan(method, keep));
        int expected = Expected(method, keep);
        Assert.That(result.Stats.VisualTokensBeforeReduction, Is.EqualTo(576));
        Assert.That(result.Stats.VisualTokensIn, Is.EqualTo(expected));
        Assert.That(result.TokenIds, Has.Count.EqualTo(3));

        using var scope = NewDisposeScope();
        using var first = _pipeline.BuildSequence(inputs, PruningRegistry.CreatePreLlm(method, keep)).Sequence;
        using var second = _pipeline.BuildSequence(inputs, PruningRegistry.CreatePreLlm(method, keep)).Sequence;
        Assert.That(first.VisualSpans, Is.EqualTo(new[] { new VisualSpan(4, expected, 0) }));
        TensorAssert.Close(first.Embeddings, second.Embeddings, 0, 0, $"{method} {keep} is deterministic");
    }

    [TestCase("CDPruner")]
    [TestCase("VisPruner")]
    [TestCase("HiPrune")]
    [TestCase("Downsample")]
    public void AFullBudgetGeneratesWhatNoReducerDoes(string method)
    {
        using var inputs = new VlmInputs(VScanFixtures.PromptIds, VScanFixtures.Pixels(1, seed: 42), 1);
        var options = new GenerationOptions { MaxNewTokens = 4, StopAtEos = false };
        Assert.That(_pipeline.Generate(inputs, options, Plan(method, 576)).TokenIds, Is.EqualTo(_pipeline.Generate(inputs, options).TokenIds));
    }

    [TestCase("CDPruner")]
    [TestCase("HiPrune")]
    public void RepeatedRunsDoNotGrowNativeMemory(string method)
    {
        using var inputs = new VlmInputs(VScanFixtures.PromptIds, VScanFixtures.Pixels(1, seed: 43), 1);
        var plan = Plan(method, 64);
        NativeMemory.AssertNoGrowth(() => _pipeline.Generate(inputs, new GenerationOptions { MaxNewTokens = 2, StopAtEos = false }, plan), 3, method);
    }

    [Test]
    public void TheReceivedAttentionIsTheQueryMeanOfTheLayersOwnSoftmax()
    {
        // Oracle: the layer's q/k from its named parameters applied to layer-normed hidden state i, explicit softmax in float64.
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        var tower = _pipeline.Model.VisionTower;
        var pixels = VScanFixtures.Pixels(1, seed: 44);
        var pass = tower.EncodeWithSignals(pixels, [], [], null, [3, -2]);
        var states = tower.HiddenStates(pixels, 6);
        foreach (int layer in new[] { 3, 6 })
        {
            var p = tower.VisionModel.Encoder[layer].named_parameters().ToDictionary(e => e.name, e => e.parameter.to(ScalarType.Float64));
            var x = nn.functional.layer_norm(states[layer][0].to(ScalarType.Float64), [32], p["layer_norm1.weight"], p["layer_norm1.bias"], 1e-5);
            var q = (matmul(x, p["self_attn.q_proj.weight"].t()) + p["self_attn.q_proj.bias"]).view(-1, 4, 8).transpose(0, 1);
            var k = (matmul(x, p["self_attn.k_proj.weight"].t()) + p["self_attn.k_proj.bias"]).view(-1, 4, 8).transpose(0, 1);
            var probs = (matmul(q, k.transpose(1, 2)) / Math.Sqrt(8)).softmax(-1);
            TensorAssert.Close(pass.MeanAttention![layer][0], probs.mean([1]), 1e-5, 1e-5, $"layer {layer} received attention");
        }
    }

    [Test]
    public void TheInstructionIsTheTextAfterTheImage()
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        var model = _pipeline.Model;
        int image = model.Architecture.ImageTokenId;
        int[] ids = [1, 10, 11, image, image, 12, 13];
        var rows = model.InstructionEmbeddings(ids);
        TensorAssert.Close(rows, model.LanguageModel.Embed(tensor(new long[] { 12, 13 })), 0, 0, "tokens after the image placeholders");
        var e = Assert.Throws<ArgumentException>(() => model.InstructionEmbeddings([1, 10, image]));
        Assert.That(e!.Message, Does.Contain("no text after its first image placeholder"));
    }

    [Test]
    public void CdPrunerFollowsTheInstruction()
    {
        using var scope = NewDisposeScope();
        var pixels = VScanFixtures.Pixels(1, seed: 45);
        var ids = VScanFixtures.PromptIds.ToArray();
        int image = Array.IndexOf(ids, _pipeline.Model.Architecture.ImageTokenId);
        var other = ids.Select((id, i) => i > image ? id + 17 : id).ToArray();
        using var a = _pipeline.Model.EncodeImages(pixels, new CdPruner(64), ids);
        using var b = _pipeline.Model.EncodeImages(pixels, new CdPruner(64), other);
        Assert.That(a.KeptIndices[0], Is.Not.EqualTo(b.KeptIndices[0]), "another instruction, another selection");
        Assert.Throws<ArgumentException>(() => _pipeline.Model.EncodeImages(pixels, new CdPruner(64)));
    }

    /// <summary>Selection overhead (time inside Reduce, tower excluded) on this tiny model; printed for the report.</summary>
    [Test]
    public void SelectionOverheadIsMeasured()
    {
        using var scope = NewDisposeScope();
        var pixels = VScanFixtures.Pixels(1, seed: 46);
        foreach (var method in new[] { "CDPruner", "VisPruner", "HiPrune", "Downsample", "DivPrune", "VisionZip" })
            foreach (int keep in new[] { 64, 192 })
            {
                var reducer = PruningRegistry.CreatePreLlm(method, keep);
                var times = new List<double>();
                for (int rep = 0; rep < 4; rep++)
                {
                    using var r = _pipeline.Model.EncodeImages(pixels, reducer, VScanFixtures.PromptIds);
                    times.Add(r.ReductionMs);
                }
                double median = times.Skip(1).Order().ElementAt(1);
                TestContext.Out.WriteLine($"overhead {method,-11} {keep,3}: {median,8:F2} ms (576 tokens)");
                Assert.That(median, Is.GreaterThan(0));
            }
    }
}
