using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Vision;
using PioFvlm.Models;
using PioFvlm.Models.Configs;
using PioFvlm.Models.LlavaNext;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>
/// LLaVA-NeXT (Mistral text model) against transformers 5.12: the committed fixtures of scripts/hf_parity (tiny model:
/// CLIP 28 px / patch 4, 2 Mistral layers with GQA, pinpoints [[28,56],[56,28],[56,56],[84,28],[28,84]]; tensor names
/// in scripts/hf_parity/README.md). Every comparison prints the difference it measured.
/// </summary>
public class LlavaNextHfParityTests
{
    const double LogitsAtol = 1e-4, PixelAtol = 1e-5, HiddenAtol = 1e-4;
    static readonly string[] SizeVariants = ["100x30", "15x32", "20x20", "28x84", "37x23", "45x60", "80x80", "84x28", "90x50"];

    static IEnumerable<string> Files() =>
        new[] { "reference.safetensors", "reference_two_images.safetensors" }.Concat(SizeVariants.Select(s => $"reference_{s}.safetensors"));

    internal static LlavaNextPipeline LoadFixture(string family = "llava_next") =>
        LlavaNextPipeline.FromPretrained(HfFixtures.Dir(family), new LoadOptions { RequireTokenizer = false, Attention = AttentionKernel.Eager });

    [TestCaseSource(nameof(Files))]
    public void MatchesTransformers(string referenceFile)
    {
        using var next = LoadFixture();
        var model = next.Model;
        using var reference = HfFixtures.Open("llava_next", referenceFile);
        using var _ = no_grad();
        using var scope = NewDisposeScope();

        // Processor: crops (uint8 stage exactly, float within 1e-5), image sizes, token and crop counts.
        var expectedSizes = reference.Load("image_sizes", ScalarType.Int64);
        int n = (int)expectedSizes.shape[0];
        var images = Enumerable.Range(0, n).Select(i => HfFixtures.Image(reference.Load($"image_{i}_rgb_uint8"))).ToList();
        var (pixels, sizes) = next.Processor.Preprocess(images);
        TensorAssert.Equal(sizes, expectedSizes, "image_sizes (H, W)");
        var expectedU8 = reference.Load("pixel_values_uint8");
        var layouts = model.Layouts(sizes);
        for (int i = 0; i < n; i++)
        {
            var crops = next.Processor.PrepareCrops(images[i]);
            var ours = stack(crops.Select(c => tensor(c.Pixels, [c.Height, c.Width, 3], ScalarType.Byte).permute(2, 0, 1)).ToArray());
            for (int c = 0; c < crops.Count; c++)
                TensorAssert.CloseReported(ours[c], expectedU8[i][c], 0, 0, $"image {i} {images[i].Width}x{images[i].Height}, crop {c}: bytes before rescale");
        }
        var expectedPixels = reference.Load("pixel_values");
        // 15x32 included: its base view (width 15 -> 28 up, height 32 -> 28 down) runs Pillow 13's vertical pass first.
        TensorAssert.CloseReported(pixels, expectedPixels, PixelAtol, 0, "pixel_values [n, crops, 3, S, S]");
        Assert.That(layouts.Select(l => (long)l.Tokens), Is.EqualTo(reference.Load("image_token_counts", ScalarType.Int64).data<long>().ToArray()), "image_token_counts");
        Assert.That(layouts.Select(l => (long)l.Crops), Is.EqualTo(reference.Load("crops_per_image", ScalarType.Int64).data<long>().ToArray()), "crops_per_image");
        Assert.That(layouts.Select(l => (long)l.Tokens), Is.EqualTo(reference.Load("feature_lens", ScalarType.Int64).data<long>().ToArray()), "feature_lens");

        // Tower + projector per crop, image_newline, packing, splice.
        TensorAssert.CloseReported(model.EncodeCrops(model.RealCrops(expectedPixels, layouts)), reference.Load("projector_output"), HiddenAtol, 0, "projector_output");
        TensorAssert.Equal(model.ImageNewline, reference.Load("image_newline"), "image_newline");
        var packed = model.EncodeImages(expectedPixels, expectedSizes);
        TensorAssert.CloseReported(cat(packed.Select(p => p.Features).ToArray(), 0), reference.Load("packed_image_features"), HiddenAtol, 0, "packed_image_features");
        var ids = HfFixtures.Ids(reference.Load("input_ids", ScalarType.Int64));
        using var inputs = new VlmInputs(ids, expectedPixels.clone(), n, expectedSizes.clone());
        var (sequence, _) = next.BuildSequence(inputs);
        using (sequence)
        {
            TensorAssert.CloseReported(sequence.Embeddings, reference.Load("inputs_embeds"), HiddenAtol, 0, "inputs_embeds");
            var spans = reference.Load("image_spans", ScalarType.Int64).data<long>().ToArray();
            for (int i = 0; i < n; i++)
            {
                var mine = sequence.VisualSpans.Where(s => s.ImageIndex == i).ToList();
                Assert.That(mine[0].Start, Is.EqualTo(spans[2 * i]), $"image {i}: block start");
                Assert.That(mine[^1].End + (layouts[i].UnpaddedHeight > 0 ? 1 : 0), Is.EqualTo(spans[2 * i] + spans[2 * i + 1]), $"image {i}: block end (last newline included)");
                Assert.That(mine.Sum(s => s.Length), Is.EqualTo(layouts[i].VisualTokens), $"image {i}: visual tokens exclude the {layouts[i].UnpaddedHeight} newlines");
            }

            var lm = model.LanguageModel;
            if (reference.Entries.ContainsKey("logits"))
            {
                var hidden = sequence.Embeddings;
                for (int layer = 0; layer < lm.LayerCount; layer++)
                {
                    hidden = lm.RunLayers(hidden, sequence.PositionIds, null, layer, layer + 1);
                    TensorAssert.CloseReported(hidden, reference.Load($"layer_output_{layer}"), HiddenAtol, 0, $"layer_output_{layer}");
                }
                TensorAssert.CloseReported(lm.Logits(hidden), reference.Load("logits"), LogitsAtol, 0, "logits");
            }
            var expectedTokens = HfFixtures.Ids(reference.Load("gen_tokens", ScalarType.Int64));
            var steps = HfFixtures.GreedySteps(lm, sequence, null, PositionPolicy.Compact, expectedTokens.Count);
            TensorAssert.CloseReported(steps.Logits, reference.Load("gen_step_logits")[0], LogitsAtol, 0, "gen_step_logits (8 steps)");
            TestContext.Out.WriteLine($"greedy tokens: ours [{string.Join(", ", steps.Tokens)}], HF [{string.Join(", ", expectedTokens)}]");
            Assert.That(steps.Tokens, Is.EqualTo(expectedTokens), "greedy tokens");
        }
    }

    /// <summary>Real-scale anyres preprocessing (336-px crops, the released pinpoints) against LlavaNextImageProcessorPil.</summary>
    [Test]
    public void AnyresProcessorMatchesTransformersAtRealScale([Values(0, 1)] int image)
    {
        using var reference = HfFixtures.Open("preprocess", "llava_next672.safetensors");
        using var scope = NewDisposeScope();
        var rgb = HfFixtures.Image(reference.Load($"img{image}.rgb_uint8"));
        var processor = new AnyresImageProcessor(new ClipImageProcessorOptions(), LlavaNextConfig.DefaultGridPinpoints, 14);
        Assert.That(new long[] { rgb.Height, rgb.Width }, Is.EqualTo(reference.Load($"img{image}.image_sizes", ScalarType.Int64).data<long>().ToArray()));
        Assert.That(processor.Layout(rgb.Width, rgb.Height).Tokens, Is.EqualTo(reference.Load($"img{image}.num_image_tokens", ScalarType.Int64).item<long>()), "num_image_tokens");
        var crops = processor.PrepareCrops(rgb);
        var ours = stack(crops.Select(c => tensor(c.Pixels, [c.Height, c.Width, 3], ScalarType.Byte).permute(2, 0, 1)).ToArray());
        TensorAssert.CloseReported(ours, reference.Load($"img{image}.pixel_values_uint8"), 0, 0, $"img{image} {rgb.Width}x{rgb.Height}: crops before rescale");
        // The float values are the bytes normalised (checked within 1e-6 when the fixture was compacted).
        var mean = tensor(ClipImageProcessorOptions.OpenAiClipMean).view(1, 3, 1, 1);
        var std = tensor(ClipImageProcessorOptions.OpenAiClipStd).view(1, 3, 1, 1);
        var expected = (reference.Load($"img{image}.pixel_values_uint8").to(ScalarType.Float64) / 255.0 - mean) / std;
        TensorAssert.CloseReported(processor.Preprocess(rgb), expected, PixelAtol, 0, $"img{image}: pixel_values");
    }
}
