using PioFvlm.Core.Pruning;
using PioFvlm.Core.Text;
using PioFvlm.Core.Vision;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>
/// Small models and hand-made signals for the VScan tests: a CLIP tower with LLaVA's 24 × 24 grid (96 px, patch 4),
/// 8 layers so that layer 5 and layer −2 (= 6) are distinct and the selected hidden state −2 skips one layer.
/// </summary>
internal static class VScanFixtures
{
    public static ClipVisionDims Vision => new(Hidden: 32, Intermediate: 64, Layers: 8, Heads: 4, ImageSize: 96, PatchSize: 4);

    public const int ImageTokenId = 63;

    /// <summary>Seeded random weights for every parameter (norm weights near 1).</summary>
    public static void Randomize(nn.Module module, ulong seed)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var gen = new Generator(seed);
        foreach (var (name, p) in module.named_parameters())
        {
            bool normWeight = name.Contains("norm") && name.EndsWith("weight", StringComparison.Ordinal);
            var noise = randn(p.shape, generator: gen);
            p.copy_(normWeight ? 1 + 0.1 * noise : name.Contains("embed_tokens") ? noise : 0.2 * noise);
        }
    }

    public static ClipVisionTower Tower(ulong seed = 3)
    {
        var tower = new ClipVisionTower(Vision);
        Randomize(tower, seed);
        return tower;
    }

    public static Tensor Pixels(int batch, ulong seed = 5) => randn([batch, 3, 96, 96], generator: new Generator(seed));

    /// <summary>config.json of a tiny LLaVA-1.5 (HF layout) with the 24 × 24 tower and a 2-layer decoder.</summary>
    public const string ConfigJson = """
        {
          "architectures": ["LlavaForConditionalGeneration"],
          "model_type": "llava",
          "image_token_index": 63,
          "projector_hidden_act": "gelu",
          "vision_feature_layer": -2,
          "vision_feature_select_strategy": "default",
          "tie_word_embeddings": false,
          "text_config": {
            "model_type": "llama", "hidden_size": 32, "num_attention_heads": 4, "num_key_value_heads": 4,
            "intermediate_size": 48, "num_hidden_layers": 2, "vocab_size": 64, "max_position_embeddings": 1024,
            "rms_norm_eps": 1e-5, "eos_token_id": 2, "bos_token_id": 1
          },
          "vision_config": {
            "model_type": "clip_vision_model", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 8,
            "num_attention_heads": 4, "image_size": 96, "patch_size": 4
          }
        }
        """;

    /// <summary>A pipeline around a seeded tiny LLaVA; the tokenizer only decodes ids as numbers.</summary>
    public static LlavaPipeline Pipeline(ulong seed = 9)
    {
        var config = (LlavaConfig)HfConfigLoader.Parse(ConfigJson, "tiny-llava/config.json");
        var model = new LlavaForConditionalGeneration(LlavaArchitecture.From(config));
        Randomize(model, seed);
        LlavaPipeline.Freeze(model);
        var processor = new ClipImageProcessor(new ClipImageProcessorOptions { ShortestEdge = 96, CropWidth = 96, CropHeight = 96 });
        return new LlavaPipeline(config, model, new NumberTokenizer(), processor);
    }

    /// <summary>Token ids around one image placeholder: BOS, 3 text tokens, the image, 4 text tokens.</summary>
    public static int[] PromptIds => [1, 10, 11, 12, ImageTokenId, 20, 21, 22, 23];

    /// <summary>Enough of a tokenizer for generation: ids decode to their numbers.</summary>
    sealed class NumberTokenizer : ITokenizer
    {
        public IReadOnlyList<int> Encode(string text, bool addBos) => throw new NotSupportedException("tests pass token ids");
        public string Decode(IEnumerable<int> ids, bool skipSpecial = true) => string.Join(" ", ids);
        public int? BosId => 1;
        public int EosId => 2;
        public int? PadId => null;
        public int VocabSize => 64;
        public int? TokenToId(string token) => null;
        public string? IdToToken(int id) => id.ToString();
    }

    /// <summary>Signals made by hand: given per-head CLS rows for some layers; everything else throws.</summary>
    public sealed class FakeSignals(int grid, IReadOnlyDictionary<int, Tensor> clsRows, int layers = 24) : IVisionSignals
    {
        public int EncoderLayers => layers;
        public int GridHeight => grid;
        public int GridWidth => grid;
        public bool FeaturesIncludeCls => false;
        public Tensor SelectedFeatures => throw new NotSupportedException("not part of the fake");
        public Tensor ClsAttention(int layer) => clsRows[VisionSignalRequest.ResolveLayer(layer, layers)];
        public Tensor Keys(int layer) => throw new NotSupportedException("not part of the fake");
        public Tensor HiddenState(int index) => throw new NotSupportedException("not part of the fake");
        public Tensor Project(Tensor visionFeatures) => throw new NotSupportedException("not part of the fake");
    }
}
