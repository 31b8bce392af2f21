using PioFvlm.Core.Generation;
using PioFvlm.Core.IO;
using PioFvlm.Core.IO.Loading;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Vision;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>
/// LLaVA-1.5 against HuggingFace transformers: the committed fixtures of scripts/hf_parity (tiny model with 4 text
/// layers and vocab 1024, no tokenizer; tensor names in scripts/hf_parity/README.md). Every comparison prints the
/// difference it measured.
/// </summary>
public class LlavaHfParityTests
{
    const double LogitsAtol = 1e-4, PixelAtol = 1e-5, HiddenAtol = 1e-4;

    [TestCase("reference.safetensors")]
    [TestCase("reference_square.safetensors")]
    [TestCase("reference_two_images.safetensors")]
    public void MatchesTransformers(string referenceFile)
    {
        using var fixture = HfLlavaFixture.Load("llava");
        var model = fixture.Model;
        using var reference = HfFixtures.Open("llava", referenceFile);
        using var _ = no_grad();
        using var scope = NewDisposeScope();

        // Pixels: our processor on the original images against the PIL-backend CLIPImageProcessor, both stages.
        var expectedPixels = reference.Load("pixel_values");
        var images = Enumerable.Range(0, (int)expectedPixels.shape[0]).Select(i => HfFixtures.Image(reference.Load($"image_{i}_rgb_uint8"))).ToList();
        TensorAssert.CloseReported(fixture.Processor.Preprocess(images), expectedPixels, PixelAtol, 0, "pixel_values");
        TensorAssert.CloseReported(PreparedChw(fixture.Processor, images), reference.Load("pixel_values_uint8"), 0, 0, "pixel_values_uint8 (before rescale)");
        var pad = new ClipImageProcessor(fixture.Processor.Options with { AspectMode = ClipAspectMode.Pad });
        TensorAssert.CloseReported(pad.Preprocess(images), reference.Load("pixel_values_pad"), PixelAtol, 0, "pixel_values_pad (expand2square)");

        // The language model input, every decoder layer, the final norm and the logits of the whole expanded prompt.
        var ids = HfFixtures.Ids(reference.Load("input_ids", ScalarType.Int64));
        var features = model.EncodeImages(expectedPixels);
        TensorAssert.CloseReported(features, reference.Load("projector_output"), HiddenAtol, 0, "projector_output");
        using var sequence = model.BuildSequence(ids, features);
        TensorAssert.CloseReported(sequence.Embeddings, reference.Load("inputs_embeds"), HiddenAtol, 0, "inputs_embeds");
        var lm = model.LanguageModel;
        var hidden = sequence.Embeddings;
        for (int layer = 0; layer < lm.LayerCount; layer++)
        {
            hidden = lm.RunLayers(hidden, sequence.PositionIds, null, layer, layer + 1);
            TensorAssert.CloseReported(hidden, reference.Load($"layer_output_{layer}"), HiddenAtol, 0, $"layer_output_{layer}");
        }
        TensorAssert.CloseReported(lm.Logits(hidden), reference.Load("logits"), LogitsAtol, 0, "logits");

        // Greedy generation with EOS suppressed, through the same prefill / decode loop as the pipeline.
        var expectedTokens = HfFixtures.Ids(reference.Load("gen_tokens", ScalarType.Int64));
        var steps = HfFixtures.GreedySteps(lm, sequence, null, PositionPolicy.Compact, expectedTokens.Count);
        TensorAssert.CloseReported(steps.Logits, reference.Load("gen_step_logits")[0], LogitsAtol, 0, "gen_step_logits (8 steps)");
        TestContext.Out.WriteLine($"greedy tokens: ours [{string.Join(", ", steps.Tokens)}], HF [{string.Join(", ", expectedTokens)}]");
        Assert.That(steps.Tokens, Is.EqualTo(expectedTokens), "greedy tokens");
    }

    [Test]
    public void ShardedCopyLoadsAndGivesTheSameLogits()
    {
        string shardedDir = HfFixtures.Dir("llava-sharded");
        var shards = Directory.GetFiles(shardedDir, "model-*-of-*.safetensors");
        Assert.That(shards, Has.Length.GreaterThanOrEqualTo(2), $"{shardedDir}: save_pretrained(max_shard_size=200 kB) should have written several shards");
        Assert.That(File.Exists(Path.Combine(shardedDir, "model.safetensors.index.json")), $"{shardedDir}: no index");
        using var whole = HfLlavaFixture.Load("llava");
        using var sharded = HfLlavaFixture.Load("llava-sharded");
        using var reference = HfFixtures.Open("llava", "reference.safetensors");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var ids = HfFixtures.Ids(reference.Load("input_ids", ScalarType.Int64));
        var pixels = reference.Load("pixel_values");
        var fromShards = LlavaTestModels.FullLogits(sharded.Model, ids, pixels);
        TensorAssert.CloseReported(fromShards, reference.Load("logits"), LogitsAtol, 0, "sharded copy: logits vs HF");
        TensorAssert.Equal(fromShards, LlavaTestModels.FullLogits(whole.Model, ids, pixels), "sharded copy vs model.safetensors: logits");
    }

    [Test]
    public void FixtureCheckpointsUseTheTransformers56ClipNames()
    {
        // transformers >= 5.6 saves the CLIP tower without its vision_model level; LlavaKeyMaps.Hf maps it back.
        foreach (string family in new[] { "llava", "llava-sharded" })
        {
            using var weights = CheckpointSource.Open(HfFixtures.Dir(family));
            var keys = weights.Entries.Keys.ToList();
            Assert.That(keys, Has.Member("vision_tower.embeddings.patch_embedding.weight"), $"{family}: flat CLIP names");
            Assert.That(keys.Where(k => k.Contains("vision_model", StringComparison.Ordinal)), Is.Empty, $"{family}: no vision_model level");
            Assert.That(LlavaKeyMaps.Hf.Map("vision_tower.embeddings.patch_embedding.weight"),
                        Is.EqualTo("vision_tower.vision_model.embeddings.patch_embedding.weight"));
        }
    }

    /// <summary>Real-scale CLIP preprocessing (shortest edge 336 + centre crop, and the research expand2square variant).</summary>
    [Test]
    public void ClipProcessorMatchesTransformersAtRealScale([Values(0, 1, 2, 3)] int image, [Values("crop", "pad")] string variant)
    {
        using var reference = HfFixtures.Open("preprocess", "clip336.safetensors");
        using var scope = NewDisposeScope();
        var rgb = HfFixtures.Image(reference.Load($"img{image}.rgb_uint8"));
        var size = reference.Load($"img{image}.size_hw", ScalarType.Int64).data<long>().ToArray();
        Assert.That(new long[] { rgb.Height, rgb.Width }, Is.EqualTo(size), $"img{image}: size_hw");
        var processor = new ClipImageProcessor(new ClipImageProcessorOptions
        {
            ShortestEdge = 336, CropWidth = 336, CropHeight = 336,
            AspectMode = variant == "pad" ? ClipAspectMode.Pad : ClipAspectMode.CenterCrop,
        });
        var expectedU8 = reference.Load($"img{image}.{variant}.pixel_values_uint8");
        TensorAssert.CloseReported(PreparedChw(processor, [rgb])[0], expectedU8, 0, 0, $"img{image} {rgb.Width}x{rgb.Height} {variant}: uint8 stage");
        // HF's float pixels were dropped at generation time after checking that they equal the normalised uint8 ones
        // within 1e-6 (scripts/hf_parity/compact.py); normalise the reference bytes here, in float64.
        var mean = tensor(ClipImageProcessorOptions.OpenAiClipMean).view(3, 1, 1);
        var std = tensor(ClipImageProcessorOptions.OpenAiClipStd).view(3, 1, 1);
        var expected = (expectedU8.to(ScalarType.Float64) / 255.0 - mean) / std;
        TensorAssert.CloseReported(processor.Preprocess(rgb)[0], expected, PixelAtol, 0, $"img{image} {rgb.Width}x{rgb.Height} {variant}: pixel_values");
    }

    /// <summary>The processor's uint8 stage as [B, 3, H, W] bytes (the layout of the *_uint8 reference tensors).</summary>
    static Tensor PreparedChw(ClipImageProcessor processor, IReadOnlyList<RgbImage> images) =>
        stack(images.Select(i =>
        {
            var prepared = processor.PrepareImage(i);
            return tensor(prepared.Pixels, [prepared.Height, prepared.Width, 3], ScalarType.Byte).permute(2, 0, 1);
        }).ToArray());
}

/// <summary>Where the HF parity fixtures are and how to read them.</summary>
internal static class HfFixtures
{
    public static string Root => Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "hf_parity");

    /// <summary>The fixture folder; a clear failure when it is missing (they are committed test data).</summary>
    public static string Dir(string family)
    {
        string dir = Path.Combine(Root, family);
        if (!Directory.Exists(dir))
            Assert.Fail($"HF parity fixtures missing: {dir} (committed under PioFvlm.Tests/TestData/hf_parity; " +
                        "regenerate with scripts/hf_parity/regenerate.sh ORACLE_DIR)");
        return dir;
    }

    public static ITensorSource Open(string family, string file)
    {
        string path = Path.Combine(Dir(family), file);
        if (!File.Exists(path)) Assert.Fail($"HF parity fixture missing: {path}");
        return CheckpointSource.Open(path);
    }

    public static List<int> Ids(Tensor ids) => ids.reshape(-1).data<long>().Select(x => checked((int)x)).ToList();

    public static RgbImage Image(Tensor hwc) => new((int)hwc.shape[1], (int)hwc.shape[0], hwc.contiguous().data<byte>().ToArray());

    /// <summary>
    /// Greedy decoding with EOS (2) suppressed, as the fixtures' generate() ran: our prefill (with
    /// <paramref name="pruner"/>) and our decode steps; returns the tokens and the raw logits of every step [n, V].
    /// </summary>
    public static (List<int> Tokens, Tensor Logits, IReadOnlyList<PruningStageReport> Stages) GreedySteps(IDecoderStack lm, MultimodalSequence sequence,
        IPrefillPruner? pruner, PositionPolicy policy, int newTokens)
    {
        const int eos = 2;
        using var cache = KvCache.For(lm.Dims, 1, sequence.Length + newTokens, ScalarType.Float32);
        using var prefill = DecoderRunner.Prefill(lm, sequence, cache, pruner, policy);
        var logits = new List<Tensor> { prefill.LastLogits };
        var tokens = new List<int>();
        for (int i = 0; i < newTokens; i++)
        {
            using var masked = logits[^1].clone();
            masked[eos] = float.NegativeInfinity;
            tokens.Add((int)masked.argmax().item<long>());
            if (i + 1 < newTokens) logits.Add(DecoderRunner.Step(lm, tokens[^1], prefill.DecodeState, cache));
        }
        return (tokens, stack(logits.ToArray()), prefill.Stages);
    }
}

/// <summary>A fixture model folder loaded as the parity tests use it: fp32, eager attention, frozen.</summary>
internal sealed class HfLlavaFixture : IDisposable
{
    public LlavaConfig Config { get; }
    public LlavaForConditionalGeneration Model { get; }
    public ClipImageProcessor Processor { get; }

    HfLlavaFixture(string dir)
    {
        Config = (LlavaConfig)HfConfigLoader.Load(dir);
        Model = new LlavaForConditionalGeneration(LlavaArchitecture.From(Config));
        using (var weights = CheckpointSource.Open(dir)) StateLoader.Load(Model, weights, LlavaKeyMaps.Hf);
        LlavaPipeline.Freeze(Model);
        Model.LanguageModel.Kernel = AttentionKernel.Eager;   // the fixtures use eager attention
        Processor = new ClipImageProcessor(PreprocessorConfig.Load(dir, Config));
    }

    public static HfLlavaFixture Load(string family) => new(HfFixtures.Dir(family));

    public void Dispose() => Model.Dispose();
}
