using PioFvlm.Core.Pruning;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning.PreLlm;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>VScan's stage wired into <see cref="LlavaPipeline"/> on a tiny LLaVA with a 24 × 24 grid.</summary>
[NonParallelizable]
public class VScanPipelineTests
{
    LlavaPipeline _pipeline = null!;

    [OneTimeSetUp]
    public void Load() => _pipeline = VScanFixtures.Pipeline();

    [OneTimeTearDown]
    public void Release() => _pipeline.Dispose();

    static double[][] Rows(Tensor t)
    {
        var flat = t.to(ScalarType.Float64).data<double>().ToArray();
        int width = (int)t.shape[1];
        return Enumerable.Range(0, (int)t.shape[0]).Select(r => flat.Skip(r * width).Take(width).ToArray()).ToArray();
    }

    /// <summary>
    /// The expected visual rows of one image, from paths other than the stage's: the unreduced features of
    /// <see cref="LlavaForConditionalGeneration.EncodeImages(Tensor)"/>, the CLS rows of
    /// <see cref="ClipVisionTower.ClsAttention(Tensor, int)"/> (separate partial runs), the brute-force selection and merge.
    /// </summary>
    Tensor Expected(Tensor pixels, int image, int budget)
    {
        var model = _pipeline.Model;
        var one = pixels.narrow(0, image, 1);
        var features = model.EncodeImages(one)[0];
        double[] Scores(int layer) => model.VisionTower.ClsAttention(one, layer)[0].narrow(-1, 1, 576).mean([0])
            .to(ScalarType.Float64).data<double>().ToArray();
        var (_, _, kept) = VScanReference.Select(Scores(5), Scores(6), 24, budget);
        var merged = VScanReference.Merge(Rows(features), kept);
        return tensor(merged.SelectMany(r => r).ToArray(), [merged.Length, features.shape[1]]).to(ScalarType.Float32);
    }

    [Test]
    public void TheVisualSpanHoldsTheReducerOutput()
    {
        using var scope = NewDisposeScope();
        var pixels = VScanFixtures.Pixels(1, seed: 21);
        using var inputs = new VlmInputs(VScanFixtures.PromptIds, pixels.clone(), 1);
        var (sequence, visionMs) = _pipeline.BuildSequence(inputs, new VScanEncoderStage(64));
        using var seq = sequence;
        using var plain = _pipeline.BuildSequence(inputs).Sequence;

        Assert.That(seq.VisualSpans, Is.EqualTo(new[] { new VisualSpan(4, 64, 0) }));
        Assert.That(seq.Length, Is.EqualTo(8 + 64));
        Assert.That(visionMs, Is.GreaterThan(0));
        using var ng = no_grad();
        TensorAssert.Close(seq.Embeddings[0].narrow(0, 4, 64), Expected(pixels, 0, 64), atol: 1e-5, rtol: 1e-5, what: "spliced visual rows");
        TensorAssert.Close(seq.Embeddings[0].narrow(0, 0, 4), plain.Embeddings[0].narrow(0, 0, 4), atol: 0, rtol: 0, what: "text before the image");
        TensorAssert.Close(seq.Embeddings[0].narrow(0, 68, 4), plain.Embeddings[0].narrow(0, 580, 4), atol: 0, rtol: 0, what: "text after the image");
        Assert.That(seq.TokenIds.Skip(4).Take(64), Is.All.EqualTo(VScanFixtures.ImageTokenId));
    }

    [Test]
    public void TwoImagesAreReducedEachOnItsOwn()
    {
        using var scope = NewDisposeScope();
        var pixels = VScanFixtures.Pixels(2, seed: 22);
        int[] ids = [1, 10, VScanFixtures.ImageTokenId, 11, VScanFixtures.ImageTokenId, 12];
        using var inputs = new VlmInputs(ids, pixels.clone(), 2);
        using var seq = _pipeline.BuildSequence(inputs, new VScanEncoderStage(96)).Sequence;
        Assert.That(seq.VisualSpans, Is.EqualTo(new[] { new VisualSpan(2, 96, 0), new VisualSpan(99, 96, 1) }));
        using var ng = no_grad();
        TensorAssert.Close(seq.Embeddings[0].narrow(0, 2, 96), Expected(pixels, 0, 96), atol: 1e-5, rtol: 1e-5, what: "image 0");
        TensorAssert.Close(seq.Embeddings[0].narrow(0, 99, 96), Expected(pixels, 1, 96), atol: 1e-5, rtol: 1e-5, what: "image 1");
    }

    [Test]
    public void GenerateReportsTheTokensBeforeAndAfterTheReducer()
    {
        using var inputs = new VlmInputs(VScanFixtures.PromptIds, VScanFixtures.Pixels(1, seed: 23), 1);
        var options = new GenerationOptions { MaxNewTokens = 4, StopAtEos = false };
        var result = _pipeline.Generate(inputs, options, new PruningPlan("VScan", new VScanEncoderStage(64), null));
        Assert.That(result.Stats.VisualTokensBeforeReduction, Is.EqualTo(576));
        Assert.That(result.Stats.VisualTokensIn, Is.EqualTo(64));
        Assert.That(result.Stats.VisualTokensOut, Is.EqualTo(64));
        Assert.That(result.Stats.PromptLength, Is.EqualTo(8 + 64));
        Assert.That(result.TokenIds, Has.Count.EqualTo(4));

        var plain = _pipeline.Generate(inputs, options);
        Assert.That(plain.Stats.VisualTokensBeforeReduction, Is.EqualTo(576));
        Assert.That(plain.Stats.VisualTokensIn, Is.EqualTo(576));
    }

    [Test]
    public void AFullBudgetGeneratesExactlyWhatNoReducerDoes()
    {
        using var inputs = new VlmInputs(VScanFixtures.PromptIds, VScanFixtures.Pixels(1, seed: 24), 1);
        var options = new GenerationOptions { MaxNewTokens = 6, StopAtEos = false };
        var plain = _pipeline.Generate(inputs, options);
        var full = _pipeline.Generate(inputs, options, new PruningPlan("VScan", new VScanEncoderStage(576), null));
        Assert.That(full.TokenIds, Is.EqualTo(plain.TokenIds));
        Assert.That(full.Stats.VisualTokensIn, Is.EqualTo(576));

        using var scope = NewDisposeScope();
        using var a = _pipeline.BuildSequence(inputs).Sequence;
        using var b = _pipeline.BuildSequence(inputs, new VScanEncoderStage(576)).Sequence;
        TensorAssert.Close(b.Embeddings, a.Embeddings, atol: 0, rtol: 0, what: "keep-all == no reducer");
    }

    [Test]
    public void RepeatedRunsDoNotGrowNativeMemory()
    {
        using var inputs = new VlmInputs(VScanFixtures.PromptIds, VScanFixtures.Pixels(1, seed: 25), 1);
        var options = new GenerationOptions { MaxNewTokens = 3, StopAtEos = false };
        var stage = new VScanEncoderStage(64);
        NativeMemory.AssertNoGrowth(() => _pipeline.Generate(inputs, options, new PruningPlan("VScan", stage, null)), 3, "Generate with VScan");
        NativeMemory.AssertNoGrowth(() =>
        {
            using var reduced = _pipeline.Model.EncodeImages(inputs.PixelValues!, stage);
        }, 3, "EncodeImages with VScan");
    }
}
