using static TorchSharp.torch;

namespace PioFvlm.Core.Vision;

/// <summary>How a non-square image becomes the square the CLIP tower sees.</summary>
public enum ClipAspectMode
{
    /// <summary>HF CLIPImageProcessor: shortest edge to size, then centre crop (borders of non-square images are lost).</summary>
    CenterCrop,

    /// <summary>LLaVA research <c>image_aspect_ratio = "pad"</c>: letterbox to a square with the mean colour first.</summary>
    Pad,
}

/// <summary>CLIPImageProcessor settings (preprocessor_config.json); defaults are LLaVA-1.5's CLIP-L/14-336.</summary>
public sealed record ClipImageProcessorOptions
{
    /// <summary>OpenAI CLIP per-channel mean (RGB).</summary>
    public static readonly double[] OpenAiClipMean = [0.48145466, 0.4578275, 0.40821073];

    /// <summary>OpenAI CLIP per-channel standard deviation (RGB).</summary>
    public static readonly double[] OpenAiClipStd = [0.26862954, 0.26130258, 0.27577711];

    /// <summary><c>size.shortest_edge</c>: the short side after resizing.</summary>
    public int ShortestEdge { get; init; } = 336;

    public int CropWidth { get; init; } = 336;
    public int CropHeight { get; init; } = 336;

    /// <summary>Multiplier from bytes to [0, 1]; HF multiplies in float64, then stores float32.</summary>
    public double RescaleFactor { get; init; } = 1.0 / 255.0;

    /// <summary>Per-channel mean as written in the config; normalisation uses it as float32, as numpy does.</summary>
    public IReadOnlyList<double> Mean { get; init; } = OpenAiClipMean;

    public IReadOnlyList<double> Std { get; init; } = OpenAiClipStd;

    public ClipAspectMode AspectMode { get; init; } = ClipAspectMode.CenterCrop;

    /// <summary>Research padding colour: int(m · 255) per channel of the double-precision mean, (122, 116, 104) for CLIP.</summary>
    public (byte R, byte G, byte B) PadColour =>
        ((byte)(int)(Mean[0] * 255), (byte)(int)(Mean[1] * 255), (byte)(int)(Mean[2] * 255));
}

/// <summary>
/// CLIP image preprocessing with PIL-exact resizing (llava.md §6.1–6.3): optional research pad-to-square, shortest
/// edge bicubic resize, centre crop, rescale by 1/255, per-channel normalisation; output CHW float32.
/// </summary>
public sealed class ClipImageProcessor(ClipImageProcessorOptions options)
{
    public ClipImageProcessorOptions Options { get; } = Validate(options);

    /// <summary>
    /// HF <c>get_resize_output_image_size(default_to_square=False)</c>: the short side becomes
    /// <paramref name="shortestEdge"/>, the long side int(shortestEdge · long / short) (truncated true division).
    /// A square maps to shortestEdge × shortestEdge.
    /// </summary>
    public static (int Width, int Height) ShortestEdgeSize(int width, int height, int shortestEdge)
    {
        if (width <= 0 || height <= 0 || shortestEdge <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"sizes must be positive: {width}x{height} to shortest edge {shortestEdge}");
        bool widthIsShort = width <= height;
        int shortSide = widthIsShort ? width : height, longSide = widthIsShort ? height : width;
        int newLong = (int)((double)((long)shortestEdge * longSide) / shortSide);
        return widthIsShort ? (shortestEdge, newLong) : (newLong, shortestEdge);
    }

    /// <summary>The 8-bit image just before rescaling: padded (research mode), resized and cropped.</summary>
    public RgbImage PrepareImage(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var o = Options;
        if (o.AspectMode == ClipAspectMode.Pad)
            image = ImageOps.ExpandToSquare(image, o.PadColour);
        var (w, h) = ShortestEdgeSize(image.Width, image.Height, o.ShortestEdge);
        image = PillowResize.Bicubic(image, w, h);
        return ImageOps.CenterCrop(image, o.CropWidth, o.CropHeight);
    }

    /// <summary>Normalised pixels of one image, CHW float32 of length 3 · CropHeight · CropWidth.</summary>
    public float[] PreprocessToArray(RgbImage image)
    {
        var prepared = PrepareImage(image);
        int plane = prepared.Width * prepared.Height;
        var result = new float[3 * plane];
        var px = prepared.Pixels;
        double factor = Options.RescaleFactor;
        for (int c = 0; c < 3; c++)
        {
            float mean = (float)Options.Mean[c], std = (float)Options.Std[c];
            for (int i = 0; i < plane; i++)
            {
                float rescaled = (float)(px[i * 3 + c] * factor);
                result[c * plane + i] = (rescaled - mean) / std;
            }
        }
        return result;
    }

    /// <summary>Pixel values [1, 3, CropHeight, CropWidth] float32 for one image.</summary>
    public Tensor Preprocess(RgbImage image) => Preprocess([image]);

    /// <summary>Pixel values [B, 3, CropHeight, CropWidth] float32, images in order.</summary>
    public Tensor Preprocess(IReadOnlyList<RgbImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new ArgumentException("no images to preprocess", nameof(images));
        int h = Options.CropHeight, w = Options.CropWidth, each = 3 * h * w;
        var all = new float[(long)images.Count * each];
        for (int b = 0; b < images.Count; b++)
            PreprocessToArray(images[b]).CopyTo(all, (long)b * each);
        return tensor(all, [images.Count, 3, h, w], ScalarType.Float32);
    }

    static ClipImageProcessorOptions Validate(ClipImageProcessorOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        if (o.ShortestEdge <= 0 || o.CropWidth <= 0 || o.CropHeight <= 0)
            throw new ArgumentException($"ClipImageProcessorOptions: shortest_edge {o.ShortestEdge} and crop {o.CropWidth}x{o.CropHeight} must be positive");
        if (o.Mean.Count != 3 || o.Std.Count != 3)
            throw new ArgumentException($"ClipImageProcessorOptions: image_mean and image_std need 3 values, got {o.Mean.Count} and {o.Std.Count}");
        if (o.Std.Any(s => s == 0))
            throw new ArgumentException("ClipImageProcessorOptions: image_std contains 0");
        return o;
    }
}
