namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// Qwen2VLImageProcessor's smart_resize (spec qwen25vl-torchsharp.md A3): the size an image is resized to before
/// patching, both sides multiples of <c>factor</c> = patch × merge (28) and the area inside [min, max] pixels. Each
/// factor × factor block becomes one visual token after the 2 × 2 merge.
/// </summary>
public static class SmartResize
{
    public const int Factor = 28;

    /// <summary>The 7B preprocessor_config.json's min_pixels (4 · 28²).</summary>
    public const long DefaultMinPixels = 3136;

    /// <summary>The 7B preprocessor_config.json's max_pixels (16384 · 28²).</summary>
    public const long DefaultMaxPixels = 12_845_056;

    /// <summary>The resized (height, width).</summary>
    /// <exception cref="ArgumentException">A side shorter than <paramref name="factor"/>, an aspect ratio over 200, or bad bounds.</exception>
    public static (int Height, int Width) Resize(int height, int width, int factor = Factor,
                                                 long minPixels = DefaultMinPixels, long maxPixels = DefaultMaxPixels)
    {
        if (factor < 1 || minPixels < 0 || maxPixels < minPixels)
            throw new ArgumentException($"smart_resize: factor {factor}, min_pixels {minPixels}, max_pixels {maxPixels} are not valid bounds");
        if (height < factor || width < factor)
            throw new ArgumentException($"smart_resize: image {width}×{height} has a side shorter than the factor {factor}");
        if ((double)Math.Max(height, width) / Math.Min(height, width) > 200)
            throw new ArgumentException($"smart_resize: image {width}×{height} has an aspect ratio over 200");
        // Python's round() is half-to-even, as Math.Round's default.
        long h = (long)Math.Round((double)height / factor) * factor;
        long w = (long)Math.Round((double)width / factor) * factor;
        if (h * w > maxPixels)
        {
            double beta = Math.Sqrt((double)height * width / maxPixels);
            h = Math.Max(factor, (long)Math.Floor(height / beta / factor) * factor);
            w = Math.Max(factor, (long)Math.Floor(width / beta / factor) * factor);
        }
        else if (h * w < minPixels)
        {
            double beta = Math.Sqrt((double)minPixels / ((double)height * width));
            h = (long)Math.Ceiling(height * beta / factor) * factor;
            w = (long)Math.Ceiling(width * beta / factor) * factor;
        }
        return ((int)h, (int)w);
    }

    /// <summary>Visual tokens of a <paramref name="width"/>×<paramref name="height"/> image: (h'/factor)·(w'/factor).</summary>
    public static int VisualTokens(int width, int height, int factor = Factor, long minPixels = DefaultMinPixels, long maxPixels = DefaultMaxPixels)
    {
        var (h, w) = Resize(height, width, factor, minPixels, maxPixels);
        return h / factor * (w / factor);
    }
}
