using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using PioFvlm.Core.IO.Safetensors;
using PioFvlm.Core.IO.TorchPickle;
using PioFvlm.Core.Vision;
using PioFvlm.Models.Configs;
using static TorchSharp.torch;

namespace PioFvlm.Models.Llava;

/// <summary>How <see cref="TinyLlava"/> names and packs the checkpoint it writes.</summary>
public enum TinyLlavaLayout
{
    /// <summary>llava-hf on-disk ("legacy") names: <c>language_model.model.*</c>, <c>vision_tower.*</c>, ...</summary>
    Hf,

    /// <summary>transformers ≥ 4.52 in-memory names: <c>model.language_model.*</c>, <c>lm_head.weight</c>, ...</summary>
    Modern,

    /// <summary>liuhaotian research layout: flat llava_llama config, <c>pytorch_model.bin</c>, and a separate CLIP folder.</summary>
    Research,
}

/// <summary>What to write.</summary>
public sealed record TinyLlavaOptions
{
    public TinyLlavaLayout Layout { get; init; } = TinyLlavaLayout.Hf;
    public int Seed { get; init; }

    /// <summary>Storage dtype of the floating-point weights (Float16 keeps the folder small).</summary>
    public ScalarType DType { get; init; } = ScalarType.Float16;

    /// <summary>HF layouts: more than 1 writes <c>model-0000i-of-0000n.safetensors</c> plus the index.</summary>
    public int Shards { get; init; } = 1;

    /// <summary>
    /// HF layouts: write the CLIP tower as transformers ≥ 5.6 saves it, without the <c>vision_model</c> level
    /// (<c>vision_tower.embeddings.*</c>, or <c>model.vision_tower.embeddings.*</c> with the modern names).
    /// </summary>
    public bool ClipWithoutVisionModel { get; init; }

    /// <summary>Folder with the LLaMA-2 <c>tokenizer.json</c> (+ <c>tokenizer_config.json</c>) to copy; null writes no tokenizer.</summary>
    public string? TokenizerDirectory { get; init; }

    /// <summary>Research layout: where the CLIP folder goes (default: the model folder's path + "-clip").</summary>
    public string? VisionTowerDirectory { get; init; }
}

/// <summary>Where a tiny model was written: the model folder, and for the research layout the CLIP tower folder.</summary>
public sealed record TinyLlavaFolders(string ModelDirectory, string? VisionTowerDirectory);

/// <summary>
/// A random, seeded, tiny LLaVA-1.5 that covers the real LLaMA-2 tokenizer (vocab 32064, or 32000 for the research
/// layout), with the CLIP tower of spec llava.md §10.1 (image 28, patch 4: 49 visual tokens), saved as a complete model
/// folder in the HF, modern-HF or research layout. For tests, demos and the CLI's <c>make-tiny</c>.
/// </summary>
public static class TinyLlava
{
    public const int HfVocab = 32064;
    public const int ResearchVocab = 32000;
    public const int ImageTokenId = 32000;
    public const int PadTokenId = 32001;
    public const string ResearchTowerName = "tiny/clip-vit-patch4-28";

    /// <summary>config.json of the model folder (HF: llava-hf layout with transformers-v4 spelling; research: flat llava_llama).</summary>
    /// <param name="textLayers">Decoder layers (2 unless a test needs room for several pruning stages).</param>
    public static JsonObject ConfigJson(TinyLlavaLayout layout, ScalarType dtype = ScalarType.Float16, int textLayers = 2)
    {
        string torchDType = TorchDTypeName(dtype);
        if (layout == TinyLlavaLayout.Research)
        {
            var research = TextJson(ResearchVocab, torchDType, textLayers);
            research["architectures"] = new JsonArray("LlavaLlamaForCausalLM");
            research["model_type"] = "llava_llama";
            research["pad_token_id"] = 0;
            research["mm_vision_tower"] = ResearchTowerName;
            research["mm_hidden_size"] = 32;
            research["mm_projector_type"] = "mlp2x_gelu";
            research["mm_vision_select_layer"] = -2;
            research["mm_vision_select_feature"] = "patch";
            research["image_aspect_ratio"] = "pad";
            research["mm_use_im_start_end"] = false;
            research["mm_use_im_patch_token"] = false;
            research["use_cache"] = true;
            research["transformers_version"] = "4.31.0";
            return research;
        }
        var text = TextJson(HfVocab, torchDType, textLayers);
        text["model_type"] = "llama";
        text["pad_token_id"] = PadTokenId;
        return new JsonObject
        {
            ["architectures"] = new JsonArray("LlavaForConditionalGeneration"),
            ["model_type"] = "llava",
            ["ignore_index"] = -100,
            ["image_token_index"] = ImageTokenId,
            ["pad_token_id"] = PadTokenId,
            ["projector_hidden_act"] = "gelu",
            ["vision_feature_layer"] = -2,
            ["vision_feature_select_strategy"] = "default",
            ["image_seq_length"] = 49,
            ["multimodal_projector_bias"] = true,
            ["tie_word_embeddings"] = false,
            ["vocab_size"] = HfVocab,
            ["torch_dtype"] = torchDType,
            ["transformers_version"] = "4.46.0",
            ["text_config"] = text,
            ["vision_config"] = VisionJson(),
        };
    }

    /// <summary>The parsed config (research: with the tiny CLIP tower attached).</summary>
    public static LlavaConfig Config(TinyLlavaLayout layout, int textLayers = 2)
    {
        var parsed = (LlavaConfig)HfConfigLoader.Parse(ConfigJson(layout, textLayers: textLayers).ToJsonString(), $"tiny-llava ({layout})");
        if (layout != TinyLlavaLayout.Research) return parsed;
        return (LlavaConfig)parsed.WithVisionTower(ClipVisionFromJson());
    }

    /// <summary>
    /// The model in memory (float32), weights drawn from a generator seeded with <paramref name="seed"/>: matrices and
    /// embeddings N(0, 0.1), biases N(0, 0.1), norm weights 1 + N(0, 0.1). Every value is rounded through
    /// <paramref name="storage"/> so the model equals, bit for bit, what loading its saved folder in float32 gives.
    /// </summary>
    public static LlavaForConditionalGeneration Create(TinyLlavaLayout layout = TinyLlavaLayout.Hf, int seed = 0,
                                                       ScalarType storage = ScalarType.Float32, int textLayers = 2)
    {
        var model = new LlavaForConditionalGeneration(LlavaArchitecture.From(Config(layout, textLayers)));
        Randomize(model, seed, storage);
        LlavaPipeline.Freeze(model);
        return model;
    }

    /// <summary>Every parameter N(0, 0.1) (norm weights 1 + N(0, 0.1)) from one seeded generator, in name order,
    /// rounded through <paramref name="storage"/> so that a saved copy loads back bit-identically.</summary>
    public static void Randomize(nn.Module model, int seed, ScalarType storage)
    {
        var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var (name, p) in model.named_parameters().OrderBy(x => x.name, StringComparer.Ordinal))
        {
            using var scope = NewDisposeScope();
            var noise = randn(p.shape, ScalarType.Float32, generator: generator) * 0.1;
            bool isNorm = name.Contains("norm", StringComparison.Ordinal) || name.Contains("layrnorm", StringComparison.Ordinal);
            var value = isNorm && name.EndsWith(".weight", StringComparison.Ordinal) ? noise + 1 : noise;
            p.copy_(value.to(storage).to(ScalarType.Float32));
        }
    }

    /// <summary>Creates the model and saves it: the seed and layout in <paramref name="options"/> pick it.</summary>
    public static TinyLlavaFolders Write(string directory, TinyLlavaOptions options)
    {
        using var model = Create(options.Layout, options.Seed, options.DType);
        return Save(model, directory, options);
    }

    /// <summary>Saves <paramref name="model"/> (built from <see cref="Config"/> of the same layout) as a model folder.</summary>
    public static TinyLlavaFolders Save(LlavaForConditionalGeneration model, string directory, TinyLlavaOptions options)
    {
        if (options.Shards < 1) throw new ArgumentOutOfRangeException(nameof(options), $"Shards must be at least 1, got {options.Shards}");
        Directory.CreateDirectory(directory);
        using var scope = NewDisposeScope();
        var state = model.state_dict()
            .OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (Name: kv.Key, Tensor: kv.Value.is_floating_point() ? kv.Value.to(options.DType) : kv.Value))
            .ToList();
        WriteJson(Path.Combine(directory, "config.json"), ConfigJson(options.Layout, options.DType));
        WriteJson(Path.Combine(directory, "generation_config.json"), new JsonObject
        {
            ["bos_token_id"] = 1,
            ["eos_token_id"] = 2,
            ["pad_token_id"] = options.Layout == TinyLlavaLayout.Research ? 0 : PadTokenId,
        });
        if (options.TokenizerDirectory is string tokenizer)
            CopyTokenizer(tokenizer, directory, addLlavaTokens: options.Layout != TinyLlavaLayout.Research);

        if (options.Layout == TinyLlavaLayout.Research)
            return SaveResearch(state, directory, options);

        var named = state
            .Select(s => (Name: options.ClipWithoutVisionModel ? WithoutVisionModelLevel(s.Name) : s.Name, s.Tensor))
            .Select(s => (options.Layout == TinyLlavaLayout.Modern ? ModernName(s.Name) : s.Name, s.Tensor)).ToList();
        if (options.Shards == 1)
            SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"), named, new Dictionary<string, string> { ["format"] = "pt" });
        else
            WriteShards(directory, named, options.Shards);
        WriteJson(Path.Combine(directory, PreprocessorConfig.FileName), PreprocessorJson());
        return new TinyLlavaFolders(directory, null);
    }

    static TinyLlavaFolders SaveResearch(List<(string Name, Tensor Tensor)> state, string directory, TinyLlavaOptions options)
    {
        string tower = options.VisionTowerDirectory ?? Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)) + "-clip";
        Directory.CreateDirectory(tower);
        var llm = new List<(string, Tensor)>();
        var clip = new List<(string, Tensor)>();
        foreach (var (name, t) in state)
        {
            if (name.StartsWith("vision_tower.", StringComparison.Ordinal)) clip.Add((name["vision_tower.".Length..], t));
            else llm.Add((ResearchName(name), t));
        }
        // Buffers old research saves carry and the loader must skip.
        var headDim = 32 / 4;
        var invFreq = pow(10000.0, -arange(0, headDim, 2, ScalarType.Float32) / headDim);
        for (int layer = 0; layer < 2; layer++) llm.Add(($"model.layers.{layer}.self_attn.rotary_emb.inv_freq", invFreq));
        TorchBinWriter.Write(Path.Combine(directory, "pytorch_model.bin"), llm);

        // A whole CLIPModel: the text half and the projections are there to be ignored.
        var generator = new Generator(12345);
        clip.Add(("vision_model.embeddings.position_ids", arange(50, ScalarType.Int64).unsqueeze(0)));
        clip.Add(("text_model.embeddings.token_embedding.weight", (randn([64, 16], generator: generator) * 0.1).to(options.DType)));
        clip.Add(("visual_projection.weight", (randn([16, 32], generator: generator) * 0.1).to(options.DType)));
        clip.Add(("logit_scale", tensor(2.6592f).to(options.DType)));
        SafetensorsWriter.Write(Path.Combine(tower, "model.safetensors"), clip, new Dictionary<string, string> { ["format"] = "pt" });
        WriteJson(Path.Combine(tower, "config.json"), ClipConfigJson());
        WriteJson(Path.Combine(tower, PreprocessorConfig.FileName), PreprocessorJson());
        return new TinyLlavaFolders(directory, tower);
    }

    static void WriteShards(string directory, List<(string, Tensor)> named, int shards)
    {
        // Pack in name order into about equal shards; the writer gives an oversized tensor a shard of its own.
        long total = named.Sum(n => n.Item2.numel() * n.Item2.ElementSize);
        long largest = named.Max(n => n.Item2.numel() * n.Item2.ElementSize);
        long limit = Math.Max(largest, (total + shards - 1) / shards);
        SafetensorsWriter.WriteSharded(directory, named, limit, metadata: new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary><c>vision_tower.vision_model.X</c> → <c>vision_tower.X</c> (transformers ≥ 5.6 on disk); other names unchanged.</summary>
    public static string WithoutVisionModelLevel(string legacy) =>
        legacy.StartsWith("vision_tower.vision_model.", StringComparison.Ordinal)
            ? "vision_tower." + legacy["vision_tower.vision_model.".Length..]
            : legacy;

    /// <summary>Legacy (module) name → transformers ≥ 4.52 name (spec llava.md §3.3).</summary>
    public static string ModernName(string legacy) => legacy switch
    {
        _ when legacy.StartsWith("language_model.model.", StringComparison.Ordinal) => "model.language_model." + legacy["language_model.model.".Length..],
        _ when legacy.StartsWith("language_model.lm_head.", StringComparison.Ordinal) => "lm_head." + legacy["language_model.lm_head.".Length..],
        _ => "model." + legacy,
    };

    /// <summary>Legacy (module) name of a language-model or projector tensor → research name (spec llava.md §3.4).</summary>
    public static string ResearchName(string legacy) => legacy switch
    {
        _ when legacy.StartsWith("language_model.model.", StringComparison.Ordinal) => "model." + legacy["language_model.model.".Length..],
        _ when legacy.StartsWith("language_model.lm_head.", StringComparison.Ordinal) => "lm_head." + legacy["language_model.lm_head.".Length..],
        _ when legacy.StartsWith("multi_modal_projector.linear_1.", StringComparison.Ordinal) => "model.mm_projector.0." + legacy["multi_modal_projector.linear_1.".Length..],
        _ when legacy.StartsWith("multi_modal_projector.linear_2.", StringComparison.Ordinal) => "model.mm_projector.2." + legacy["multi_modal_projector.linear_2.".Length..],
        _ => throw new ArgumentException($"'{legacy}' has no research name (vision tower tensors go to the CLIP folder)", nameof(legacy)),
    };

    static JsonObject TextJson(int vocab, string torchDType, int layers) => new()
    {
        ["vocab_size"] = vocab,
        ["hidden_size"] = 32,
        ["intermediate_size"] = 88,
        ["num_hidden_layers"] = layers,
        ["num_attention_heads"] = 4,
        ["num_key_value_heads"] = 4,
        ["hidden_act"] = "silu",
        ["max_position_embeddings"] = 1024,
        ["rms_norm_eps"] = 1e-5,
        ["rope_theta"] = 10000.0,
        ["bos_token_id"] = 1,
        ["eos_token_id"] = 2,
        ["tie_word_embeddings"] = false,
        ["torch_dtype"] = torchDType,
    };

    static JsonObject VisionJson() => new()
    {
        ["model_type"] = "clip_vision_model",
        ["hidden_size"] = 32,
        ["intermediate_size"] = 64,
        ["num_hidden_layers"] = 3,
        ["num_attention_heads"] = 4,
        ["image_size"] = 28,
        ["patch_size"] = 4,
        ["num_channels"] = 3,
        ["hidden_act"] = "quick_gelu",
        ["layer_norm_eps"] = 1e-5,
        ["projection_dim"] = 16,
    };

    /// <summary>config.json of the research layout's CLIP folder: a CLIPModel (model_type clip) with the tower under vision_config.</summary>
    public static JsonObject ClipConfigJson() => new()
    {
        ["architectures"] = new JsonArray("CLIPModel"),
        ["model_type"] = "clip",
        ["projection_dim"] = 16,
        ["logit_scale_init_value"] = 2.6592,
        ["text_config"] = new JsonObject
        {
            ["model_type"] = "clip_text_model", ["vocab_size"] = 64, ["hidden_size"] = 16, ["intermediate_size"] = 32,
            ["num_hidden_layers"] = 1, ["num_attention_heads"] = 2, ["max_position_embeddings"] = 16,
        },
        ["vision_config"] = VisionJson(),
    };

    static ClipVisionConfig ClipVisionFromJson()
    {
        using var doc = JsonDocument.Parse(VisionJson().ToJsonString());
        return ClipVisionConfig.Parse(new ConfigReader(doc.RootElement, "tiny-clip/config.json", "vision_config"), new ClipVisionConfig());
    }

    /// <summary>CLIPImageProcessor config at <paramref name="size"/> px: shortest edge and centre crop <paramref name="size"/>, bicubic, OpenAI CLIP statistics.</summary>
    public static JsonObject PreprocessorJson(int size = 28) => new()
    {
        ["crop_size"] = new JsonObject { ["height"] = size, ["width"] = size },
        ["do_center_crop"] = true,
        ["do_convert_rgb"] = true,
        ["do_normalize"] = true,
        ["do_rescale"] = true,
        ["do_resize"] = true,
        ["image_mean"] = new JsonArray(ClipImageProcessorOptions.OpenAiClipMean.Select(v => (JsonNode)v).ToArray()),
        ["image_processor_type"] = "CLIPImageProcessor",
        ["image_std"] = new JsonArray(ClipImageProcessorOptions.OpenAiClipStd.Select(v => (JsonNode)v).ToArray()),
        ["resample"] = 3,
        ["rescale_factor"] = 1 / 255.0,
        ["size"] = new JsonObject { ["shortest_edge"] = size },
    };

    /// <summary>
    /// Copies tokenizer.json and tokenizer_config.json; for HF layouts adds <c>&lt;image&gt;</c> = 32000 and
    /// <c>&lt;pad&gt;</c> = 32001 as llava-hf does (added tokens, special, not normalized) and names &lt;pad&gt; the pad token.
    /// </summary>
    public static void CopyTokenizer(string sourceDirectory, string targetDirectory, bool addLlavaTokens)
    {
        string json = Path.Combine(sourceDirectory, "tokenizer.json");
        string config = Path.Combine(sourceDirectory, "tokenizer_config.json");
        if (!File.Exists(json)) throw new FileNotFoundException($"tokenizer.json not found in {sourceDirectory}", json);
        if (!addLlavaTokens)
        {
            File.Copy(json, Path.Combine(targetDirectory, "tokenizer.json"), overwrite: true);
            if (File.Exists(config)) File.Copy(config, Path.Combine(targetDirectory, "tokenizer_config.json"), overwrite: true);
            return;
        }
        var tokenizer = JsonNode.Parse(File.ReadAllText(json))!.AsObject();
        var added = tokenizer["added_tokens"] as JsonArray ?? new JsonArray();
        tokenizer["added_tokens"] = added;
        var configNode = File.Exists(config) ? JsonNode.Parse(File.ReadAllText(config))!.AsObject() : new JsonObject();
        var decoder = configNode["added_tokens_decoder"] as JsonObject ?? new JsonObject();
        configNode["added_tokens_decoder"] = decoder;
        foreach (var (id, content) in new[] { (ImageTokenId, "<image>"), (PadTokenId, "<pad>") })
        {
            if (added.Any(a => a?["content"]?.GetValue<string>() == content)) continue;
            added.Add(new JsonObject
            {
                ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            });
            decoder[id.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new JsonObject
            {
                ["content"] = content, ["lstrip"] = false, ["normalized"] = false, ["rstrip"] = false, ["single_word"] = false,
                ["special"] = true,
            };
        }
        configNode["pad_token"] = "<pad>";
        File.WriteAllText(Path.Combine(targetDirectory, "tokenizer.json"), tokenizer.ToJsonString(Compact));
        WriteJson(Path.Combine(targetDirectory, "tokenizer_config.json"), configNode);
    }

    static string TorchDTypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float16 => "float16",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float32 => "float32",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), $"storage dtype {dtype} is not supported (Float16, BFloat16, Float32)"),
    };

    // Pieces such as "▁the" stay readable (and the file stays the size of the original) instead of becoming \u2581.
    static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    static readonly JsonSerializerOptions Indented = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = true };

    static void WriteJson(string path, JsonNode node) => File.WriteAllText(path, node.ToJsonString(Indented) + "\n");
}
