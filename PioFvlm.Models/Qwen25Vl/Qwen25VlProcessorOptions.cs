using System.Text.Json;
using PioFvlm.Core.Vision;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// Qwen2VLImageProcessor's settings (spec A3), from preprocessor_config.json: <c>min_pixels</c> / <c>max_pixels</c>
/// (or newer <c>size.shortest_edge</c> / <c>size.longest_edge</c>), mean and std, patch / temporal patch / merge sizes.
/// Absent values take the 7B file's (min 3136, max 12,845,056), not the class defaults (max 1,003,520). Both pixel
/// bounds can be overridden with <c>with { MinPixels = … }</c>; the values used are reported by <see cref="ToString"/>.
/// </summary>
public sealed record Qwen25VlProcessorOptions
{
    public long MinPixels { get; init; } = SmartResize.DefaultMinPixels;
    public long MaxPixels { get; init; } = SmartResize.DefaultMaxPixels;
    public int PatchSize { get; init; } = 14;
    public int TemporalPatchSize { get; init; } = 2;
    public int MergeSize { get; init; } = 2;
    public IReadOnlyList<double> Mean { get; init; } = ClipImageProcessorOptions.OpenAiClipMean;
    public IReadOnlyList<double> Std { get; init; } = ClipImageProcessorOptions.OpenAiClipStd;

    public int Factor => PatchSize * MergeSize;

    /// <summary>The settings of <paramref name="directory"/>/preprocessor_config.json, or the 7B defaults when it has none.</summary>
    /// <exception cref="FormatException">A field of the wrong type; the message names the file and field.</exception>
    public static Qwen25VlProcessorOptions Load(string directory)
    {
        string path = Path.Combine(directory, "preprocessor_config.json");
        var o = new Qwen25VlProcessorOptions();
        if (!File.Exists(path)) return o;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var r = doc.RootElement;
            long? Long(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : null;
            double[]? Triple(string name) => r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array
                ? v.EnumerateArray().Select(x => x.GetDouble()).ToArray() : null;
            long? min = Long(r, "min_pixels"), max = Long(r, "max_pixels");
            if (r.TryGetProperty("size", out var size) && size.ValueKind == JsonValueKind.Object)
            {
                min ??= Long(size, "shortest_edge");
                max ??= Long(size, "longest_edge");
            }
            o = o with
            {
                MinPixels = min ?? o.MinPixels,
                MaxPixels = max ?? o.MaxPixels,
                PatchSize = (int)(Long(r, "patch_size") ?? o.PatchSize),
                TemporalPatchSize = (int)(Long(r, "temporal_patch_size") ?? o.TemporalPatchSize),
                MergeSize = (int)(Long(r, "merge_size") ?? o.MergeSize),
                Mean = Triple("image_mean") ?? o.Mean,
                Std = Triple("image_std") ?? o.Std,
            };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new FormatException($"{path}: not a Qwen2-VL preprocessor config ({e.Message})", e);
        }
        if (o.Mean.Count != 3 || o.Std.Count != 3 || o.MinPixels < 0 || o.MaxPixels < o.MinPixels)
            throw new FormatException($"{path}: image_mean/image_std need 3 values and 0 ≤ min_pixels ≤ max_pixels (got {o})");
        return o;
    }

    public override string ToString() =>
        $"min_pixels {MinPixels}, max_pixels {MaxPixels}, factor {Factor} (patch {PatchSize} × merge {MergeSize}), temporal patch {TemporalPatchSize}";
}
