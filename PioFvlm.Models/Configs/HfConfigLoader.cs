using System.Text.Json;

namespace PioFvlm.Models.Configs;

/// <summary>Reads a HuggingFace config.json into the typed record of its family.</summary>
public static class HfConfigLoader
{
    const string LlavaArch = "LlavaForConditionalGeneration";
    const string LlavaNextArch = "LlavaNextForConditionalGeneration";
    const string QwenArch = "Qwen2_5_VLForConditionalGeneration";
    static readonly string[] ResearchArchs = ["LlavaLlamaForCausalLM", "LlavaMistralForCausalLM"];
    static readonly string[] ResearchModelTypes = ["llava_llama", "llava_mistral"];

    /// <summary>model_type values this loader accepts ("llava" covers both HF and research 1.5 files).</summary>
    public static IReadOnlyList<string> SupportedModelTypes { get; } =
        ["llava", "llava_next", "qwen2_5_vl", .. ResearchModelTypes];

    public static IReadOnlyList<string> SupportedArchitectures { get; } =
        [LlavaArch, LlavaNextArch, QwenArch, .. ResearchArchs];

    /// <summary>Loads <c>config.json</c> from a file path or a model folder.</summary>
    /// <exception cref="FileNotFoundException">No config.json there.</exception>
    /// <exception cref="ConfigFormatException">Malformed JSON, a wrong value type, a missing required field or an
    /// invalid value; the message names the file and the JSON path.</exception>
    /// <exception cref="UnsupportedModelException">Not one of <see cref="SupportedModelTypes"/>.</exception>
    public static VlmConfig Load(string pathToConfigJsonOrFolder)
    {
        var file = ResolveConfigFile(pathToConfigJsonOrFolder);
        return Parse(File.ReadAllText(file), file);
    }

    /// <summary>Parses config.json text; <paramref name="sourceName"/> is used in messages.</summary>
    public static VlmConfig Parse(string json, string sourceName)
    {
        using var doc = ParseDocument(json, sourceName);
        var root = new ConfigReader(doc.RootElement, sourceName, "");
        var modelType = root.NullableString("model_type");
        var architectures = root.StringList("architectures");

        var isResearch = root.Has("mm_vision_tower")
            || architectures.Any(ResearchArchs.Contains)
            || (modelType != null && ResearchModelTypes.Contains(modelType));
        // Research files say model_type "llava" or "llava_llama"; route them on their mm_* keys, not on model_type.
        if (isResearch)
            return LlavaConfigParser.ParseResearch(root, modelType ?? "", architectures);

        var family = FamilyOf(root, modelType, architectures);
        return family switch
        {
            VlmFamily.Llava or VlmFamily.LlavaNext => LlavaConfigParser.ParseHf(root, family, modelType ?? "", architectures),
            _ => Qwen25VlConfig.Parse(root, modelType ?? "", architectures),
        };
    }

    /// <summary>Loads a CLIP vision config: a full CLIPModel config.json (model_type "clip", tower under
    /// <c>vision_config</c>, e.g. openai/clip-vit-large-patch14-336) or a bare "clip_vision_model" one. Used to
    /// attach the tower of a research LLaVA checkpoint with <see cref="LlavaFamilyConfig.WithVisionTower"/>.</summary>
    public static ClipVisionConfig LoadClipVision(string pathToConfigJsonOrFolder)
    {
        var file = ResolveConfigFile(pathToConfigJsonOrFolder);
        using var doc = ParseDocument(File.ReadAllText(file), file);
        var root = new ConfigReader(doc.RootElement, file, "");
        var modelType = root.NullableString("model_type");
        return modelType switch
        {
            "clip" => ClipVisionConfig.Parse(root.Object("vision_config") ?? ConfigReader.Empty(file, "vision_config"), new ClipVisionConfig()),
            "clip_vision_model" => ClipVisionConfig.Parse(root, new ClipVisionConfig()),
            _ => throw new UnsupportedModelException(file, "model_type",
                $"expected a CLIP config (model_type clip or clip_vision_model), got {(modelType == null ? "none" : $"'{modelType}'")}"),
        };
    }

    static string ResolveConfigFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        return File.Exists(file) ? file : throw new FileNotFoundException($"config.json not found: {file}", file);
    }

    static JsonDocument ParseDocument(string json, string file)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = false });
        }
        catch (JsonException e)
        {
            throw new ConfigFormatException(file, null,
                $"malformed JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: {e.Message}", e);
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw new ConfigFormatException(file, null, $"expected a JSON object at the top level, got {doc.RootElement.ValueKind}");
        }
        return doc;
    }

    static VlmFamily FamilyOf(ConfigReader root, string? modelType, IReadOnlyList<string> architectures)
    {
        var supported = $"supported model_type: {string.Join(", ", SupportedModelTypes)}; " +
                        $"supported architectures: {string.Join(", ", SupportedArchitectures)}";
        VlmFamily? byType = modelType switch
        {
            null => null,
            "llava" => VlmFamily.Llava,
            "llava_next" => VlmFamily.LlavaNext,
            "qwen2_5_vl" => VlmFamily.Qwen25Vl,
            _ => throw new UnsupportedModelException(root.File, "model_type", $"model_type '{modelType}' is not supported ({supported})"),
        };

        foreach (var arch in architectures)
        {
            VlmFamily? byArch = arch switch
            {
                LlavaArch => VlmFamily.Llava,
                LlavaNextArch => VlmFamily.LlavaNext,
                QwenArch => VlmFamily.Qwen25Vl,
                _ => throw new UnsupportedModelException(root.File, "architectures", $"architecture '{arch}' is not supported ({supported})"),
            };
            if (byType != null && byArch != byType)
                throw new ConfigFormatException(root.File, "architectures",
                    $"architecture '{arch}' contradicts model_type '{modelType}'");
            byType ??= byArch;
        }

        return byType ?? throw new UnsupportedModelException(root.File, "model_type",
            $"neither model_type nor architectures is given ({supported})");
    }
}
