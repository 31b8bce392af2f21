using PioFvlm.Core.Generation;
using PioFvlm.Core.IO;
using PioFvlm.Core.IO.Loading;
using PioFvlm.Core.Nn;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Qwen25Vl;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>
/// Qwen2.5-VL against transformers 5.12.1: the committed fixtures of scripts/hf_parity (tiny model: vision depth 4 with
/// windows of 2 × 2 merged units and full attention at blocks 1 and 3, Qwen2 decoder of 4 layers with GQA 4/2 and
/// mrope_section [2, 3, 3] at θ 100; tensor names in scripts/hf_parity/README.md). Every comparison prints the
/// difference it measured. Gates (spec A9): 1e-4 on logits, 1e-5 on vision outputs, exact on integer tensors.
/// </summary>
public class Qwen25VlHfParityTests
{
    const double LogitsAtol = 1e-4, VisionAtol = 1e-5, HiddenAtol = 1e-5;

    [Test]
    public void FixturesAreWellFormed()
    {
        string[] common = ["input_ids", "attention_mask", "mm_token_type_ids", "inputs_embeds", "logits", "layer_output_0",
                           "final_norm_output", "gen_tokens", "gen_step_logits"];
        // get_rope_index's positions only where there are images (text-only prompts use plain positions).
        string[] vision = ["position_ids", "rope_deltas", "pixel_values", "image_grid_thw", "vision_patch_embed", "image_embeds", "vision_window_index", "vision_cu_seqlens"];
        HfParityFixtureChecks.RequireWellFormed("qwen25vl", ["reference.safetensors", "reference_batch_padded.safetensors"], [.. common, .. vision]);
        HfParityFixtureChecks.RequireWellFormed("qwen25vl", ["reference_text_only.safetensors"], common);
    }

    [Test]
    public void VisionTowerMatchesTransformers()
    {
        using var model = QwenFixture.Load();
        using var reference = HfFixtures.Open("qwen25vl", "reference.safetensors");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var grids = Qwen25VlGrid.FromTensor(reference.Load("image_grid_thw", ScalarType.Int64));
        var layout = model.Visual.Layout(grids);
        TensorAssert.Equal(tensor(layout.WindowIndex), reference.Load("vision_window_index", ScalarType.Int64), "vision_window_index");
        TensorAssert.Equal(tensor(layout.CuWindowSeqlens), reference.Load("vision_cu_window_seqlens", ScalarType.Int64), "vision_cu_window_seqlens");
        TensorAssert.Equal(tensor(layout.CuSeqlens), reference.Load("vision_cu_seqlens", ScalarType.Int64), "vision_cu_seqlens");

        var traced = new Dictionary<string, Tensor>();
        var embeds = model.EncodeImages(reference.Load("pixel_values"), grids, (name, t) => traced[name] = t.alias().MoveToOuterDisposeScope());
        TensorAssert.CloseReported(traced["vision_patch_embed"], reference.Load("vision_patch_embed"), VisionAtol, 0, "vision_patch_embed");
        var rope = Qwen25VlVisionRope.For(layout.PatchRows, layout.PatchColumns, model.Config.Vision.HeadDim, null, CPU);
        TensorAssert.CloseReported(rope.Freqs, reference.Load("vision_rotary_freqs"), 1e-6, 0, "vision_rotary_freqs (original order)");
        for (int i = 0; i < model.Config.Vision.Depth; i++)
            TensorAssert.CloseReported(traced[$"vision_block_output_{i}"], reference.Load($"vision_block_output_{i}"), VisionAtol, 0, $"vision_block_output_{i} (window order)");
        TensorAssert.CloseReported(traced["vision_merger_output_window_order"], reference.Load("vision_merger_output_window_order"), VisionAtol, 0, "merger output (window order)");
        TensorAssert.CloseReported(embeds, reference.Load("image_embeds"), VisionAtol, 0, "image_embeds");
    }

    [TestCase("reference.safetensors")]
    [TestCase("reference_text_only.safetensors")]
    public void LanguageModelAndGenerationMatchTransformers(string file)
    {
        using var model = QwenFixture.Load();
        using var reference = HfFixtures.Open("qwen25vl", file);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var ids = HfFixtures.Ids(reference.Load("input_ids", ScalarType.Int64));
        bool hasImages = reference.Entries.ContainsKey("image_grid_thw");
        var grids = hasImages ? Qwen25VlGrid.FromTensor(reference.Load("image_grid_thw", ScalarType.Int64)) : [];
        var features = new List<Tensor>();
        if (hasImages)
        {
            var embeds = model.EncodeImages(reference.Load("pixel_values"), grids);
            long start = 0;
            foreach (var g in grids)
            {
                long n = g.Tokens(model.Merge);
                features.Add(embeds.narrow(0, start, n));
                start += n;
            }
            var (rows, delta) = Qwen25VlRopeIndex.Compute(ids, model.Config.ImageTokenId, grids, model.Merge);
            TensorAssert.Equal(Qwen25VlRopeIndex.Tensor(rows), reference.Load("position_ids", ScalarType.Int64)[.., 0], "position_ids (get_rope_index)");
            Assert.That(delta, Is.EqualTo(reference.Load("rope_deltas", ScalarType.Int64).item<long>()), "rope_deltas");
        }
        using var sequence = model.BuildSequence(ids, grids, features);
        TensorAssert.CloseReported(sequence.Embeddings, reference.Load("inputs_embeds"), HiddenAtol, 0, "inputs_embeds");
        var lm = model.LanguageModel;
        var hidden = sequence.Embeddings;
        for (int layer = 0; layer < lm.LayerCount; layer++)
        {
            hidden = lm.RunLayers(hidden, sequence.PositionIds, null, layer, layer + 1);
            TensorAssert.CloseReported(hidden, reference.Load($"layer_output_{layer}"), 1e-4, 0, $"layer_output_{layer}");
        }
        TensorAssert.CloseReported(lm.Norm(hidden), reference.Load("final_norm_output"), 1e-4, 0, "final_norm_output");
        TensorAssert.CloseReported(lm.Logits(hidden), reference.Load("logits"), LogitsAtol, 0, "logits");

        // Greedy with EOS suppressed (as the fixture's generate() ran), decode positions from max(position ids) + 1.
        var expected = HfFixtures.Ids(reference.Load("gen_tokens", ScalarType.Int64));
        var (tokens, stepLogits) = QwenFixture.Greedy(lm, sequence, model.Config.Text.EosTokenIds, expected.Count);
        TensorAssert.CloseReported(stepLogits, reference.Load("gen_step_logits")[0], LogitsAtol, 0, "gen_step_logits");
        TestContext.Out.WriteLine($"greedy tokens: ours [{string.Join(", ", tokens)}], HF [{string.Join(", ", expected)}]");
        Assert.That(tokens, Is.EqualTo(expected), "greedy tokens");
    }
}

/// <summary>The Qwen fixture model, fp32, eager text attention, frozen.</summary>
internal static class QwenFixture
{
    public static Qwen25VlForConditionalGeneration Load(string family = "qwen25vl")
    {
        string dir = HfFixtures.Dir(family);
        var config = (Qwen25VlConfig)HfConfigLoader.Load(dir);
        var model = new Qwen25VlForConditionalGeneration(config);
        using (var weights = CheckpointSource.Open(dir)) StateLoader.Load(model, weights, Qwen25VlKeyMaps.Hf);
        foreach (var p in model.parameters()) p.requires_grad = false;
        model.LanguageModel.Kernel = AttentionKernel.Eager;
        return model;
    }

    /// <summary>Greedy decoding with <paramref name="suppress"/> masked out, through DecoderRunner (KeepOriginal).</summary>
    public static (List<int> Tokens, Tensor Logits) Greedy(IDecoderStack lm, MultimodalSequence sequence, IReadOnlyList<int> suppress, int newTokens)
    {
        using var cache = KvCache.For(lm.Dims, 1, sequence.Length + newTokens, ScalarType.Float32);
        using var prefill = DecoderRunner.Prefill(lm, sequence, cache, null, PositionPolicy.KeepOriginal);
        var logits = new List<Tensor> { prefill.LastLogits.clone() };
        var tokens = new List<int>();
        for (int i = 0; i < newTokens; i++)
        {
            using var masked = logits[^1].clone();
            foreach (var id in suppress) masked[id] = float.NegativeInfinity;
            tokens.Add((int)masked.argmax().item<long>());
            if (i + 1 < newTokens) logits.Add(DecoderRunner.Step(lm, tokens[^1], prefill.DecodeState, cache));
        }
        return (tokens, stack(logits.ToArray()));
    }
}
