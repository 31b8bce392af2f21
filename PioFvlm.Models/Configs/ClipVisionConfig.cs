namespace PioFvlm.Models.Configs;

/// <summary>CLIP vision tower (HF <c>CLIPVisionConfig</c>). Absent fields take the HF class defaults (a ViT-B/32:
/// hidden 768, 12 layers, image 224, patch 32, quick_gelu, eps 1e-5).</summary>
public sealed record ClipVisionConfig
{
    public int HiddenSize { get; init; } = 768;
    public int IntermediateSize { get; init; } = 3072;
    public int NumHiddenLayers { get; init; } = 12;
    public int NumAttentionHeads { get; init; } = 12;
    public int NumChannels { get; init; } = 3;
    public int ImageSize { get; init; } = 224;
    public int PatchSize { get; init; } = 32;
    public double LayerNormEps { get; init; } = 1e-5;
    public string HiddenAct { get; init; } = "quick_gelu";

    /// <summary>Only used by CLIP's contrastive head, which LLaVA drops; kept for completeness.</summary>
    public int ProjectionDim { get; init; } = 512;

    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Patches per side; the patch conv floors like PyTorch's Conv2d.</summary>
    public int PatchesPerSide => ImageSize / PatchSize;

    public int NumPatches => PatchesPerSide * PatchesPerSide;

    /// <summary>Position-embedding rows: patches plus the CLS token.</summary>
    public int NumPositions => NumPatches + 1;

    /// <summary>openai/clip-vit-large-patch14-336, the tower of LLaVA-1.5/1.6 and HF LlavaConfig's default
    /// <c>vision_config</c>.</summary>
    public static ClipVisionConfig ClipVitLargePatch14_336 { get; } = new()
    {
        HiddenSize = 1024,
        IntermediateSize = 4096,
        NumHiddenLayers = 24,
        NumAttentionHeads = 16,
        ImageSize = 336,
        PatchSize = 14,
        ProjectionDim = 768,
    };

    internal static ClipVisionConfig Parse(ConfigReader r, ClipVisionConfig defaults)
    {
        var modelType = r.NullableString("model_type");
        if (modelType != null && modelType != "clip_vision_model")
            throw new UnsupportedModelException(r.File, r.At("model_type"),
                $"vision tower '{modelType}' is not supported (supported: clip_vision_model)");
        var config = new ClipVisionConfig
        {
            HiddenSize = r.PositiveInt("hidden_size", defaults.HiddenSize),
            IntermediateSize = r.PositiveInt("intermediate_size", defaults.IntermediateSize),
            NumHiddenLayers = r.PositiveInt("num_hidden_layers", defaults.NumHiddenLayers),
            NumAttentionHeads = r.PositiveInt("num_attention_heads", defaults.NumAttentionHeads),
            NumChannels = r.PositiveInt("num_channels", defaults.NumChannels),
            ImageSize = r.PositiveInt("image_size", defaults.ImageSize),
            PatchSize = r.PositiveInt("patch_size", defaults.PatchSize),
            LayerNormEps = r.Double("layer_norm_eps", defaults.LayerNormEps),
            HiddenAct = r.String("hidden_act", defaults.HiddenAct),
            ProjectionDim = r.Int("projection_dim", defaults.ProjectionDim),
        };
        if (config.HiddenSize % config.NumAttentionHeads != 0)
            throw r.Error("num_attention_heads",
                $"hidden_size {config.HiddenSize} is not divisible by num_attention_heads {config.NumAttentionHeads}");
        if (config.PatchSize > config.ImageSize)
            throw r.Error("patch_size", $"patch_size {config.PatchSize} exceeds image_size {config.ImageSize}");
        return config;
    }
}
