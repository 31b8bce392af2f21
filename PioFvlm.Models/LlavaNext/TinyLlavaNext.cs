using System.Text.Json.Nodes;
using PioFvlm.Core.IO.Safetensors;
using PioFvlm.Core.Vision;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;
using static TorchSharp.torch;

namespace PioFvlm.Models.LlavaNext;

/// <summary>The text model of a tiny LLaVA-NeXT: Vicuna (LLaMA) or Mistral (GQA, sliding_window null).</summary>
public enum TinyNextText { Vicuna, Mistral }

/// <summary>
/// A random tiny LLaVA-NeXT folder in the llava-hf layout (tests, CI): <see cref="TinyLlava"/>'s CLIP (28 px, patch 4)
/// and 2-layer decoder, pinpoints [[28,56],[56,28],[56,56]] (so an image gives 1 + 2..4 crops), <c>image_newline</c>,
/// and for <see cref="TinyNextText.Mistral"/> a Mistral text config with 2 KV heads. The tokenizer is the LLaMA-2 one
/// with &lt;image&gt; and &lt;pad&gt; added for both (the weights are random; only the prompt template differs).
/// </summary>
public static class TinyLlavaNext
{
    public static JsonObject ConfigJson(TinyNextText text, ScalarType dtype = ScalarType.Float16, int textLayers = 2)
    {
        var config = TinyLlava.ConfigJson(TinyLlavaLayout.Hf, dtype, textLayers);
        config["architectures"] = new JsonArray("LlavaNextForConditionalGeneration");
        config["model_type"] = "llava_next";
        config["image_grid_pinpoints"] = new JsonArray(new JsonArray(28, 56), new JsonArray(56, 28), new JsonArray(56, 56));
        if (text == TinyNextText.Mistral)
        {
            var t = config["text_config"]!.AsObject();
            t["model_type"] = "mistral";
            t["num_key_value_heads"] = 2;
            t["sliding_window"] = null;
            t["rope_theta"] = 1e6;
        }
        return config;
    }

    public static LlavaNextConfig Config(TinyNextText text, int textLayers = 2) =>
        (LlavaNextConfig)HfConfigLoader.Parse(ConfigJson(text, textLayers: textLayers).ToJsonString(), $"tiny-llava-next ({text})");

    /// <summary>The 28-px crop processor options of the tiny CLIP.</summary>
    public static ClipImageProcessorOptions Crops { get; } = new() { ShortestEdge = 28, CropWidth = 28, CropHeight = 28 };

    /// <summary>The random model, frozen, weights rounded through <paramref name="storage"/>, computing in
    /// <paramref name="compute"/> (float64 for tests whose oracle must agree to rounding); 2 decoder layers unless
    /// <paramref name="textLayers"/> asks for room for more pruning stages.</summary>
    public static LlavaNextForConditionalGeneration Create(TinyNextText text, int seed = 0, ScalarType storage = ScalarType.Float32,
                                                           int textLayers = 2, ScalarType compute = ScalarType.Float32)
    {
        var model = LlavaNextPipeline.CreateModel(Config(text, textLayers), Crops, dtype: compute);
        TinyLlava.Randomize(model, seed, storage);
        foreach (var p in model.parameters()) p.requires_grad = false;
        model.eval();
        return model;
    }

    /// <summary>Writes the folder (config, generation config, preprocessor config, weights, tokenizer when given).</summary>
    public static void Write(string directory, TinyNextText text, int seed = 0, ScalarType dtype = ScalarType.Float16, string? tokenizerDirectory = null)
    {
        Directory.CreateDirectory(directory);
        using var model = Create(text, seed, dtype);
        using var scope = NewDisposeScope();
        var state = model.state_dict().OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (TinyLlava.WithoutVisionModelLevel(kv.Key), kv.Value.is_floating_point() ? kv.Value.to(dtype) : kv.Value)).ToList();
        SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"), state, new Dictionary<string, string> { ["format"] = "pt" });
        File.WriteAllText(Path.Combine(directory, "config.json"), ConfigJson(text, dtype).ToJsonString(new() { WriteIndented = true }));
        File.WriteAllText(Path.Combine(directory, "generation_config.json"),
            new JsonObject { ["bos_token_id"] = 1, ["eos_token_id"] = 2, ["pad_token_id"] = TinyLlava.PadTokenId }.ToJsonString());
        File.WriteAllText(Path.Combine(directory, PreprocessorConfig.FileName), TinyLlava.PreprocessorJson().ToJsonString());
        if (tokenizerDirectory is not null) TinyLlava.CopyTokenizer(tokenizerDirectory, directory, addLlavaTokens: true);
    }
}
