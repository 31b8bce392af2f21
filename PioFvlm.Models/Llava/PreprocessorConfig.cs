using System.Text.Json;
using PioFvlm.Core.Vision;
using PioFvlm.Models.Configs;

namespace PioFvlm.Models.Llava;

/// <summary>
/// Reads <c>preprocessor_config.json</c> (CLIPImageProcessor) into processor options. Research checkpoints ship none:
/// then the tower's image size and the OpenAI CLIP statistics are used, with padding to square when the model config
/// says <c>image_aspect_ratio = "pad"</c>.
/// </summary>
public static class PreprocessorConfig
{
    public const string FileName = "preprocessor_config.json";

    public static ClipImageProcessorOptions Load(string modelDirectory, LlavaFamilyConfig config)
    {
        var vision = config.RequireVision();
        var mode = config.ImageAspectRatio == "pad" ? ClipAspectMode.Pad : ClipAspectMode.CenterCrop;
        var options = new ClipImageProcessorOptions
        {
            ShortestEdge = vision.ImageSize,
            CropWidth = vision.ImageSize,
            CropHeight = vision.ImageSize,
            AspectMode = mode,
        };
        string path = Path.Combine(modelDirectory, FileName);
        if (!File.Exists(path)) return options;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FormatException("the top level is not a JSON object");
            if (root.TryGetProperty("size", out var size))
                options = options with { ShortestEdge = size.ValueKind == JsonValueKind.Number ? size.GetInt32() : size.GetProperty("shortest_edge").GetInt32() };
            if (root.TryGetProperty("crop_size", out var crop))
                options = crop.ValueKind == JsonValueKind.Number
                    ? options with { CropWidth = crop.GetInt32(), CropHeight = crop.GetInt32() }
                    : options with { CropWidth = crop.GetProperty("width").GetInt32(), CropHeight = crop.GetProperty("height").GetInt32() };
            if (root.TryGetProperty("image_mean", out var mean)) options = options with { Mean = mean.EnumerateArray().Select(e => e.GetDouble()).ToArray() };
            if (root.TryGetProperty("image_std", out var std)) options = options with { Std = std.EnumerateArray().Select(e => e.GetDouble()).ToArray() };
            if (root.TryGetProperty("rescale_factor", out var rescale)) options = options with { RescaleFactor = rescale.GetDouble() };
            if (root.TryGetProperty("resample", out var resample) && resample.GetInt32() != 3)
                throw new NotSupportedException($"resample = {resample.GetInt32()} (only 3, bicubic, is implemented)");
            if (root.TryGetProperty("do_center_crop", out var doCrop) && !doCrop.GetBoolean() && mode == ClipAspectMode.CenterCrop)
                throw new NotSupportedException("do_center_crop = false is not supported");
            return options;
        }
        catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException or NotSupportedException)
        {
            throw new FormatException($"{path}: {e.Message}", e);
        }
    }
}
