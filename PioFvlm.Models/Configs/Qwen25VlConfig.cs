namespace PioFvlm.Models.Configs;

/// <summary>Qwen2.5-VL (HF <c>Qwen2_5_VLForConditionalGeneration</c>, model_type "qwen2_5_vl"), from the v4 flat
/// layout or the v5 nested <c>text_config</c> layout.</summary>
public sealed record Qwen25VlConfig : VlmConfig
{
    public override VlmFamily Family => VlmFamily.Qwen25Vl;

    public required Qwen25VlTextConfig Text { get; init; }
    public required Qwen25VlVisionConfig Vision { get; init; }

    /// <summary><c>&lt;|image_pad|&gt;</c>, 151655.</summary>
    public required int ImageTokenId { get; init; }

    /// <summary><c>&lt;|video_pad|&gt;</c>, 151656.</summary>
    public required int VideoTokenId { get; init; }

    /// <summary><c>&lt;|vision_start|&gt;</c>, 151652.</summary>
    public required int VisionStartTokenId { get; init; }

    /// <summary><c>&lt;|vision_end|&gt;</c>, 151653.</summary>
    public required int VisionEndTokenId { get; init; }

    /// <summary><c>&lt;|vision_pad|&gt;</c>, unused by the model.</summary>
    public int? VisionTokenId { get; init; }

    internal static Qwen25VlConfig Parse(ConfigReader root, string modelType, IReadOnlyList<string> architectures)
    {
        // v5 nests the text fields; take text_config.X when present, else the top-level X (v4).
        var nested = root.Object("text_config");
        var text = Qwen25VlTextConfig.Parse(nested == null ? root : nested.WithFallback(root));
        var visionReader = root.Object("vision_config")
            ?? throw root.Error("vision_config", "required field is missing (HF's defaults describe no released tower)");
        var vision = Qwen25VlVisionConfig.Parse(visionReader);
        if (vision.OutHiddenSize != text.HiddenSize)
            throw visionReader.Error("out_hidden_size", $"merger output {vision.OutHiddenSize} differs from the text hidden size {text.HiddenSize}");

        var tokens = nested == null ? root : root.WithFallback(nested);
        return new Qwen25VlConfig
        {
            SourcePath = root.File,
            ModelType = modelType,
            Architectures = architectures,
            CheckpointDType = root.DType() ?? nested?.DType(),
            Text = text,
            Vision = vision,
            ImageTokenId = root.Int("image_token_id", 151655),
            VideoTokenId = root.Int("video_token_id", 151656),
            VisionStartTokenId = tokens.Int("vision_start_token_id", 151652),
            VisionEndTokenId = tokens.Int("vision_end_token_id", 151653),
            VisionTokenId = tokens.NullableInt("vision_token_id", null),
        };
    }
}
