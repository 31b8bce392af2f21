using System.Text.Json.Nodes;

namespace PioFvlm.Bench.Demo;

/// <summary>
/// Dimensions of the demo model: LLaVA-1.5's architecture (CLIP ViT with feature layer −2 and CLS dropped, 2-layer
/// GELU projector, LLaMA decoder) at a size a 2-core CPU can train in about an hour.
/// </summary>
public sealed record DemoModelConfig
{
    public int ImageSize { get; init; } = 128;
    public int PatchSize { get; init; } = 16;
    public int VisionHidden { get; init; } = 96;
    public int VisionIntermediate { get; init; } = 384;
    public int VisionLayers { get; init; } = 3;
    public int VisionHeads { get; init; } = 4;
    public int TextHidden { get; init; } = 128;
    public int TextIntermediate { get; init; } = 344;
    public int TextLayers { get; init; } = 8;
    public int TextHeads { get; init; } = 8;
    public int MaxPositions { get; init; } = 512;

    public int VisualTokens => ImageSize / PatchSize * (ImageSize / PatchSize);

    /// <summary>config.json in the llava-hf layout for a vocabulary of <paramref name="vocab"/> with the given image/pad ids.</summary>
    public JsonObject ConfigJson(int vocab, int imageId, int padId, string torchDType) => new()
    {
        ["architectures"] = new JsonArray("LlavaForConditionalGeneration"),
        ["model_type"] = "llava",
        ["ignore_index"] = -100,
        ["image_token_index"] = imageId,
        ["pad_token_id"] = padId,
        ["projector_hidden_act"] = "gelu",
        ["vision_feature_layer"] = -2,
        ["vision_feature_select_strategy"] = "default",
        ["image_seq_length"] = VisualTokens,
        ["multimodal_projector_bias"] = true,
        ["tie_word_embeddings"] = false,
        ["vocab_size"] = vocab,
        ["torch_dtype"] = torchDType,
        ["transformers_version"] = "4.46.0",
        ["text_config"] = new JsonObject
        {
            ["model_type"] = "llama",
            ["vocab_size"] = vocab,
            ["hidden_size"] = TextHidden,
            ["intermediate_size"] = TextIntermediate,
            ["num_hidden_layers"] = TextLayers,
            ["num_attention_heads"] = TextHeads,
            ["num_key_value_heads"] = TextHeads,
            ["hidden_act"] = "silu",
            ["max_position_embeddings"] = MaxPositions,
            ["rms_norm_eps"] = 1e-5,
            ["rope_theta"] = 10000.0,
            ["bos_token_id"] = 1,
            ["eos_token_id"] = 2,
            ["pad_token_id"] = padId,
            ["tie_word_embeddings"] = false,
            ["torch_dtype"] = torchDType,
        },
        ["vision_config"] = new JsonObject
        {
            ["model_type"] = "clip_vision_model",
            ["hidden_size"] = VisionHidden,
            ["intermediate_size"] = VisionIntermediate,
            ["num_hidden_layers"] = VisionLayers,
            ["num_attention_heads"] = VisionHeads,
            ["image_size"] = ImageSize,
            ["patch_size"] = PatchSize,
            ["num_channels"] = 3,
            ["hidden_act"] = "quick_gelu",
            ["layer_norm_eps"] = 1e-5,
            ["projection_dim"] = VisionHidden,
        },
    };

    /// <summary>preprocessor_config.json: CLIPImageProcessor at the demo size (images are generated at that size).</summary>
    public JsonObject PreprocessorJson() => Models.Llava.TinyLlava.PreprocessorJson(ImageSize);
}
