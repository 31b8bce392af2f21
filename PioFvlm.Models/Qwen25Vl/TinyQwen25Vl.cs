using System.Text.Json.Nodes;
using PioFvlm.Core.IO.Safetensors;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;
using PioFvlm.Models.Text.Qwen2;
using static TorchSharp.torch;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// A random tiny Qwen2.5-VL folder in the Hub layout (tests, CI; <c>pio-fvlm make-tiny --family qwen2.5-vl</c>): the
/// HF fixture's tower (4 blocks of width 64, window attention with full attention at blocks 1 and 3, patch 14, merge 2),
/// a 2-layer Qwen2 decoder of width 64 (GQA 4/2, M-RoPE sections [2, 3, 3]), the byte-level tokenizer of
/// <see cref="TinyQwen2TokenizerJson"/>, and pixel bounds that turn any small image into 36 to 64 visual tokens
/// (a 32 × 32 image becomes 168 × 168: 6 × 6 merged tokens).
/// </summary>
public static class TinyQwen25Vl
{
    /// <summary>Padded past the tokenizer's 263 ids, as the real 152,064 is past its 151,665.</summary>
    public const int Vocab = 272;
    public const int TextLayers = 2;
    public const long MinPixels = 168 * 168, MaxPixels = 224 * 224;

    public static JsonObject ConfigJson(ScalarType dtype = ScalarType.Float16)
    {
        string dtypeName = dtype == ScalarType.Float16 ? "float16" : dtype == ScalarType.BFloat16 ? "bfloat16" : "float32";
        return new JsonObject
        {
            ["architectures"] = new JsonArray("Qwen2_5_VLForConditionalGeneration"),
            ["model_type"] = "qwen2_5_vl",
            ["dtype"] = dtypeName,
            ["image_token_id"] = TinyQwen2TokenizerJson.ImagePad,
            ["video_token_id"] = TinyQwen2TokenizerJson.VideoPad,
            ["vision_start_token_id"] = TinyQwen2TokenizerJson.VisionStart,
            ["vision_end_token_id"] = TinyQwen2TokenizerJson.VisionEnd,
            ["tie_word_embeddings"] = false,
            ["text_config"] = new JsonObject
            {
                ["model_type"] = "qwen2_5_vl_text",
                ["dtype"] = dtypeName,
                ["bos_token_id"] = TinyQwen2TokenizerJson.EndOfText,
                ["eos_token_id"] = TinyQwen2TokenizerJson.ImEnd,
                ["pad_token_id"] = TinyQwen2TokenizerJson.EndOfText,
                ["hidden_act"] = "silu",
                ["hidden_size"] = 64,
                ["intermediate_size"] = 128,
                ["num_attention_heads"] = 4,
                ["num_key_value_heads"] = 2,
                ["num_hidden_layers"] = TextLayers,
                ["max_position_embeddings"] = 1024,
                ["rms_norm_eps"] = 1e-6,
                ["rope_parameters"] = new JsonObject { ["mrope_section"] = new JsonArray(2, 3, 3), ["rope_theta"] = 10000.0, ["rope_type"] = "default" },
                ["sliding_window"] = null,
                ["use_sliding_window"] = false,
                ["tie_word_embeddings"] = false,
                ["vocab_size"] = Vocab,
            },
            ["vision_config"] = new JsonObject
            {
                ["model_type"] = "qwen2_5_vl_vision",
                ["depth"] = 4,
                ["fullatt_block_indexes"] = new JsonArray(1, 3),
                ["hidden_act"] = "silu",
                ["hidden_size"] = 64,
                ["in_channels"] = 3,
                ["intermediate_size"] = 128,
                ["num_heads"] = 4,
                ["out_hidden_size"] = 64,
                ["patch_size"] = 14,
                ["spatial_merge_size"] = 2,
                ["temporal_patch_size"] = 2,
                ["tokens_per_second"] = 2,
                ["window_size"] = 56,
            },
        };
    }

    public static Qwen25VlConfig Config() => (Qwen25VlConfig)HfConfigLoader.Parse(ConfigJson().ToJsonString(), "tiny-qwen2.5-vl");

    /// <summary>The random model, frozen, weights drawn as <see cref="TinyLlava.Randomize"/> does and rounded through
    /// <paramref name="storage"/> (so it equals its saved folder loaded in float32).</summary>
    public static Qwen25VlForConditionalGeneration Create(int seed = 0, ScalarType storage = ScalarType.Float32)
    {
        var model = new Qwen25VlForConditionalGeneration(Config());
        TinyLlava.Randomize(model, seed, storage);
        foreach (var p in model.parameters()) p.requires_grad = false;
        model.eval();
        return model;
    }

    /// <summary>Module name → the Hub's (<c>language_model.model.X</c> → <c>model.X</c>, <c>language_model.lm_head</c> →
    /// <c>lm_head</c>, <c>visual.*</c> unchanged): the names <see cref="Qwen25VlKeyMaps.Hf"/> reads back.</summary>
    public static string HubName(string module) =>
        module.StartsWith("language_model.model.", StringComparison.Ordinal) ? "model." + module["language_model.model.".Length..]
        : module.StartsWith("language_model.", StringComparison.Ordinal) ? module["language_model.".Length..]
        : module;

    /// <summary>Writes config, generation config, preprocessor config, weights (one file) and the tiny tokenizer.</summary>
    public static void Write(string directory, int seed = 0, ScalarType dtype = ScalarType.Float16)
    {
        Directory.CreateDirectory(directory);
        using var model = Create(seed, dtype);
        using var scope = NewDisposeScope();
        var state = model.state_dict().OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (HubName(kv.Key), kv.Value.is_floating_point() ? kv.Value.to(dtype) : kv.Value)).ToList();
        SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"), state, new Dictionary<string, string> { ["format"] = "pt" });
        var indented = new System.Text.Json.JsonSerializerOptions { WriteIndented = true };
        File.WriteAllText(Path.Combine(directory, "config.json"), ConfigJson(dtype).ToJsonString(indented));
        File.WriteAllText(Path.Combine(directory, "generation_config.json"), new JsonObject
        {
            ["bos_token_id"] = TinyQwen2TokenizerJson.EndOfText,
            ["eos_token_id"] = new JsonArray(TinyQwen2TokenizerJson.ImEnd, TinyQwen2TokenizerJson.EndOfText),
            ["pad_token_id"] = TinyQwen2TokenizerJson.EndOfText,
        }.ToJsonString());
        File.WriteAllText(Path.Combine(directory, "preprocessor_config.json"), new JsonObject
        {
            ["image_processor_type"] = "Qwen2VLImageProcessor",
            ["min_pixels"] = MinPixels,
            ["max_pixels"] = MaxPixels,
            ["patch_size"] = 14,
            ["temporal_patch_size"] = 2,
            ["merge_size"] = 2,
            ["image_mean"] = new JsonArray(0.48145466, 0.4578275, 0.40821073),
            ["image_std"] = new JsonArray(0.26862954, 0.26130258, 0.27577711),
        }.ToJsonString(indented));
        TinyQwen2TokenizerJson.Write(directory);
    }
}
