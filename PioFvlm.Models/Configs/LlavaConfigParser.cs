namespace PioFvlm.Models.Configs;

/// <summary>Maps both LLaVA config layouts (HF nested, research flat) onto <see cref="LlavaConfig"/> /
/// <see cref="LlavaNextConfig"/>.</summary>
internal static class LlavaConfigParser
{
    /// <summary>The research code's placeholder id for image positions (llava/constants.py IMAGE_TOKEN_INDEX).</summary>
    public const int ResearchImageTokenId = -200;

    static readonly string[] SupportedStrategies = ["default", "full"];

    public static LlavaFamilyConfig ParseHf(ConfigReader root, VlmFamily family, string modelType, IReadOnlyList<string> architectures)
    {
        var textReader = root.Object("text_config") ?? ConfigReader.Empty(root.File, "text_config");
        var text = LlamaTextConfig.Parse(textReader, textReader.String("model_type", "llama"), textReader.At("model_type"));

        // A missing vision_config means LlavaConfig's built-in CLIP-L/14-336; a present one starts from
        // CLIPVisionConfig's own defaults, as HF does.
        var visionReader = root.Object("vision_config");
        var vision = visionReader == null
            ? ClipVisionConfig.ClipVitLargePatch14_336
            : ClipVisionConfig.Parse(visionReader, new ClipVisionConfig());

        var featureLayers = root.IntOrIntList("vision_feature_layer", [-2]);
        CheckFeatureLayers(root, "vision_feature_layer", featureLayers, vision.NumHiddenLayers);
        var strategy = root.String("vision_feature_select_strategy", "default");
        if (!SupportedStrategies.Contains(strategy))
            throw root.Error("vision_feature_select_strategy", $"'{strategy}' is not supported (supported: {string.Join(", ", SupportedStrategies)})");

        // v5 spells it image_token_id, v4 image_token_index.
        var imageTokenId = root.Has("image_token_id") ? root.Int("image_token_id", 32000) : root.Int("image_token_index", 32000);
        var tie = textReader.Has("tie_word_embeddings") ? text.TieWordEmbeddings : root.Bool("tie_word_embeddings", text.TieWordEmbeddings);

        var padTokenId = root.NullableInt("pad_token_id", null) ?? text.PadTokenId;
        var act = root.String("projector_hidden_act", "gelu");
        var bias = root.Bool("multimodal_projector_bias", true);
        var imageSeqLength = root.PositiveInt("image_seq_length", 576);
        var dtype = root.DType();

        if (family == VlmFamily.Llava)
            return new LlavaConfig
            {
                SourcePath = root.File, ModelType = modelType, Architectures = architectures, CheckpointDType = dtype,
                Layout = LlavaLayout.Hf, Text = text, Vision = vision, ImageTokenId = imageTokenId,
                PadTokenId = padTokenId, VisionFeatureLayers = featureLayers,
                VisionFeatureSelectStrategy = strategy, ProjectorHiddenAct = act, ProjectorBias = bias,
                ProjectorInputSize = vision.HiddenSize * featureLayers.Count, ImageSeqLength = imageSeqLength,
                TieWordEmbeddings = tie,
            };

        var pinpoints = root.NullableIntPairs("image_grid_pinpoints");
        return new LlavaNextConfig
        {
            SourcePath = root.File, ModelType = modelType, Architectures = architectures, CheckpointDType = dtype,
            Layout = LlavaLayout.Hf, Text = text, Vision = vision, ImageTokenId = imageTokenId,
            PadTokenId = padTokenId, VisionFeatureLayers = featureLayers,
            VisionFeatureSelectStrategy = strategy, ProjectorHiddenAct = act, ProjectorBias = bias,
            ProjectorInputSize = vision.HiddenSize * featureLayers.Count, ImageSeqLength = imageSeqLength,
            TieWordEmbeddings = tie,
            // HF reads each entry as [height, width].
            ImageGridPinpoints = pinpoints == null
                ? LlavaNextConfig.DefaultGridPinpoints
                : CheckPinpoints(root, pinpoints.Select(p => new ImageResolution(p.First, p.Second)).ToArray()),
            PatchMergeType = "spatial_unpad",
        };
    }

    static readonly string[] SupportedAspectRatios = ["pad", "square", "anyres"];
    static readonly string[] SupportedMergeTypes = ["flat", "spatial", "spatial_unpad"];

    public static LlavaFamilyConfig ParseResearch(ConfigReader root, string modelType, IReadOnlyList<string> architectures)
    {
        var isMistral = modelType == "llava_mistral" || architectures.Contains("LlavaMistralForCausalLM");
        var text = LlamaTextConfig.Parse(root, isMistral ? "mistral" : "llama", "model_type");

        var tower = root.RequireString("mm_vision_tower");
        var mmHidden = root.RequirePositiveInt("mm_hidden_size");
        var projectorType = root.String("mm_projector_type", "linear");
        if (projectorType != "mlp2x_gelu")
            throw root.Error("mm_projector_type", $"projector '{projectorType}' is not supported (supported: mlp2x_gelu)");

        var selectLayer = root.Int("mm_vision_select_layer", -2);
        var selectFeature = root.String("mm_vision_select_feature", "patch");
        var strategy = selectFeature switch
        {
            "patch" => "default",
            "cls_patch" => "full",
            _ => throw root.Error("mm_vision_select_feature", $"'{selectFeature}' is not supported (supported: patch, cls_patch)"),
        };

        // Research process_images: "pad" pads to square, "anyres" tiles, anything else (absent) is plain CLIP resizing.
        var aspect = root.String("image_aspect_ratio", "square");
        if (!SupportedAspectRatios.Contains(aspect))
            throw root.Error("image_aspect_ratio", $"'{aspect}' is not supported (supported: {string.Join(", ", SupportedAspectRatios)})");

        int[] selectLayers = [selectLayer];
        var useStartEnd = root.Bool("mm_use_im_start_end", false);
        var dtype = root.DType();

        if (aspect != "anyres")
            return new LlavaConfig
            {
                SourcePath = root.File, ModelType = modelType, Architectures = architectures, CheckpointDType = dtype,
                Layout = LlavaLayout.Research, Text = text, Vision = null, VisionTowerName = tower,
                ImageTokenId = ResearchImageTokenId, PadTokenId = text.PadTokenId, VisionFeatureLayers = selectLayers,
                VisionFeatureSelectStrategy = strategy, ProjectorHiddenAct = "gelu", ProjectorBias = true,
                ProjectorInputSize = mmHidden, ImageAspectRatio = aspect, UseImageStartEnd = useStartEnd,
                TieWordEmbeddings = text.TieWordEmbeddings,
            };

        var mergeType = root.String("mm_patch_merge_type", "flat");
        if (!SupportedMergeTypes.Contains(mergeType))
            throw root.Error("mm_patch_merge_type", $"'{mergeType}' is not supported (supported: {string.Join(", ", SupportedMergeTypes)})");
        var pinpoints = root.NullableIntPairs("image_grid_pinpoints")
            ?? throw root.Error("image_grid_pinpoints", "required when image_aspect_ratio is 'anyres'");
        return new LlavaNextConfig
        {
            SourcePath = root.File, ModelType = modelType, Architectures = architectures, CheckpointDType = dtype,
            Layout = LlavaLayout.Research, Text = text, Vision = null, VisionTowerName = tower,
            ImageTokenId = ResearchImageTokenId, PadTokenId = text.PadTokenId, VisionFeatureLayers = selectLayers,
            VisionFeatureSelectStrategy = strategy, ProjectorHiddenAct = "gelu", ProjectorBias = true,
            ProjectorInputSize = mmHidden, ImageAspectRatio = aspect, UseImageStartEnd = useStartEnd,
            TieWordEmbeddings = text.TieWordEmbeddings,
            // The research code reads each entry as [width, height].
            ImageGridPinpoints = CheckPinpoints(root, pinpoints.Select(p => new ImageResolution(p.Second, p.First)).ToArray()),
            PatchMergeType = mergeType,
        };
    }

    static void CheckFeatureLayers(ConfigReader r, string key, IReadOnlyList<int> layers, int numLayers)
    {
        if (layers.Count == 0) throw r.Error(key, "must name at least one layer");
        // hidden_states has numLayers + 1 entries (embeddings first), indexable from either end.
        foreach (var layer in layers)
            if (layer < -(numLayers + 1) || layer > numLayers)
                throw r.Error(key, $"layer {layer} is out of range for a {numLayers}-layer vision tower");
    }

    static ImageResolution[] CheckPinpoints(ConfigReader r, ImageResolution[] pinpoints)
    {
        if (pinpoints.Length == 0) throw r.Error("image_grid_pinpoints", "must not be empty");
        foreach (var p in pinpoints)
            if (p.Height <= 0 || p.Width <= 0)
                throw r.Error("image_grid_pinpoints", $"entries must be positive, got [{p.Height}, {p.Width}]");
        return pinpoints;
    }
}
