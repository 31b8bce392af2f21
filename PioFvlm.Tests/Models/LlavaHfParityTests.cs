using PioFvlm.Core.Generation;
using PioFvlm.Core.IO;
using PioFvlm.Core.IO.Loading;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Vision;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>
/// LLaVA-1.5 against HuggingFace transformers: the fixtures of scripts/hf_parity/make_fixtures.py (tiny model with 4 text
/// layers and vocab 1024, no tokenizer; tensor names in scripts/hf_parity/README.md). Inconclusive until they exist.
/// </summary>
public class LlavaHfParityTests
{
    const int Eos = 2;
    static string FixtureDir => Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "hf_parity", "llava");

    [TestCase("reference.safetensors")]
    [TestCase("reference_square.safetensors")]
    [TestCase("reference_two_images.safetensors")]
    public void MatchesTransformers(string referenceFile)
    {
        string referencePath = Path.Combine(FixtureDir, referenceFile);
        if (!File.Exists(referencePath))
            Assert.Inconclusive("HF reference fixtures not generated yet: run scripts/hf_parity/run_on_device.sh on a machine with transformers");

        var config = (LlavaConfig)HfConfigLoader.Load(FixtureDir);
        using var model = new LlavaForConditionalGeneration(LlavaArchitecture.From(config));
        using (var weights = CheckpointSource.Open(FixtureDir)) StateLoader.Load(model, weights, LlavaKeyMaps.Hf);
        LlavaPipeline.Freeze(model);
        model.LanguageModel.Kernel = AttentionKernel.Eager;   // the fixtures use eager attention
        var processor = new ClipImageProcessor(PreprocessorConfig.Load(FixtureDir, config));
        using var reference = CheckpointSource.Open(referencePath);
        using var _ = no_grad();
        using var scope = NewDisposeScope();

        // Pixels: our processor on the original images against the PIL-backend CLIPImageProcessor.
        var expectedPixels = reference.Load("pixel_values");
        var images = Enumerable.Range(0, (int)expectedPixels.shape[0]).Select(i => ToImage(reference.Load($"image_{i}_rgb_uint8"))).ToList();
        TensorAssert.Close(processor.Preprocess(images), expectedPixels, 1e-5, 0, "pixel_values");

        // Logits of the whole expanded prompt.
        var ids = reference.Load("input_ids", ScalarType.Int64)[0].data<long>().Select(x => (int)x).ToList();
        var logits = LlavaTestModels.FullLogits(model, ids, expectedPixels);
        TensorAssert.Close(logits, reference.Load("logits"), 1e-4, 1e-4, "logits");

        // Greedy generation with EOS suppressed, through the same prefill / decode loop as the pipeline.
        var expectedTokens = reference.Load("gen_tokens", ScalarType.Int64)[0].data<long>().Select(x => (int)x).ToArray();
        var features = model.EncodeImages(expectedPixels);
        using var sequence = model.BuildSequence(ids, features);
        using var cache = KvCache.For(model.Architecture.Text, 1, sequence.Length + expectedTokens.Length, ScalarType.Float32);
        using var prefill = DecoderRunner.Prefill(model.LanguageModel, sequence, cache);
        TensorAssert.Close(prefill.LastLogits, reference.Load("gen_step_logits")[0][0], 1e-4, 1e-4, "first generation step logits");
        var options = new GenerationOptions { MaxNewTokens = expectedTokens.Length, SuppressTokens = [Eos], StopAtEos = false };
        var (tokens, _) = DecoderRunner.Greedy(model.LanguageModel, prefill, cache, options, [Eos]);
        Assert.That(tokens, Is.EqualTo(expectedTokens), "greedy tokens");
    }

    static RgbImage ToImage(Tensor hwc) => new((int)hwc.shape[1], (int)hwc.shape[0], hwc.contiguous().data<byte>().ToArray());
}
