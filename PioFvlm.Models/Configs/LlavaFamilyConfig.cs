namespace PioFvlm.Models.Configs;

/// <summary>Fields shared by LLaVA-1.5 and LLaVA-NeXT, from either config layout: CLIP tower, 2-layer GELU
/// projector, LLaMA/Mistral text model.</summary>
public abstract record LlavaFamilyConfig : VlmConfig
{
    public required LlavaLayout Layout { get; init; }

    public required LlamaTextConfig Text { get; init; }

    /// <summary>The CLIP tower. Always set for <see cref="LlavaLayout.Hf"/>; null for <see cref="LlavaLayout.Research"/>
    /// until attached with <see cref="WithVisionTower"/> (its config lives in the tower's own checkpoint).</summary>
    public ClipVisionConfig? Vision { get; init; }

    /// <summary>Research <c>mm_vision_tower</c> (e.g. "openai/clip-vit-large-patch14-336"); null for HF.</summary>
    public string? VisionTowerName { get; init; }

    /// <summary>HF <c>image_token_index</c> (v4) / <c>image_token_id</c> (v5). Research checkpoints have no image
    /// token in the vocabulary: their code marks image positions with the placeholder id -200.</summary>
    public required int ImageTokenId { get; init; }

    /// <summary>Top-level <c>pad_token_id</c> (HF), else the text model's.</summary>
    public int? PadTokenId { get; init; }

    /// <summary>CLIP hidden-state indices whose features feed the projector (HF <c>vision_feature_layer</c> /
    /// research <c>mm_vision_select_layer</c>); several are concatenated along channels.</summary>
    public required IReadOnlyList<int> VisionFeatureLayers { get; init; }

    /// <summary>"default" drops the CLS token (research "patch"), "full" keeps it (research "cls_patch").</summary>
    public required string VisionFeatureSelectStrategy { get; init; }

    public required string ProjectorHiddenAct { get; init; }
    public required bool ProjectorBias { get; init; }

    /// <summary>Projector input width: CLIP hidden × number of feature layers (research: <c>mm_hidden_size</c>).</summary>
    public required int ProjectorInputSize { get; init; }

    /// <summary>HF <c>image_seq_length</c> (576 when absent); null for research (derive it from the tower).</summary>
    public int? ImageSeqLength { get; init; }

    /// <summary>Research <c>image_aspect_ratio</c> ("pad" or "anyres"); null for HF (its processor decides).</summary>
    public string? ImageAspectRatio { get; init; }

    /// <summary>Research <c>mm_use_im_start_end</c>; the released checkpoints use false.</summary>
    public bool UseImageStartEnd { get; init; }

    public required bool TieWordEmbeddings { get; init; }

    /// <summary>Attaches the CLIP config of a research checkpoint's tower (read with
    /// <see cref="HfConfigLoader.LoadClipVision"/>), checking it matches <c>mm_hidden_size</c>.</summary>
    public LlavaFamilyConfig WithVisionTower(ClipVisionConfig vision)
    {
        ArgumentNullException.ThrowIfNull(vision);
        var expected = vision.HiddenSize * VisionFeatureLayers.Count;
        if (expected != ProjectorInputSize)
            throw new ConfigFormatException(SourcePath, Layout == LlavaLayout.Research ? "mm_hidden_size" : "vision_config.hidden_size",
                $"the attached vision tower gives {expected} projector inputs (hidden {vision.HiddenSize} × {VisionFeatureLayers.Count} layers) but the config expects {ProjectorInputSize}");
        return this with { Vision = vision };
    }

    /// <summary>The CLIP config, or a clear error naming the tower to load for research checkpoints.</summary>
    public ClipVisionConfig RequireVision() => Vision ?? throw new InvalidOperationException(
        $"{SourcePath}: the vision tower '{VisionTowerName}' is not attached; load its config.json with " +
        $"HfConfigLoader.LoadClipVision and call WithVisionTower (or use ClipVisionConfig.ClipVitLargePatch14_336 for openai/clip-vit-large-patch14-336)");
}
