using PioFvlm.Core.Vision;
using PioFvlm.Models.Configs;
using static TorchSharp.torch;

namespace PioFvlm.Models.LlavaNext;

/// <summary>
/// LLaVA-NeXT's anyres preprocessing (spec llava.md §5.2, HF LlavaNextImageProcessor with the PIL backend): the best
/// pinpoint canvas, an aspect-preserving Pillow-exact bicubic resize into it, black centred padding, S×S tiles in
/// row-major order, and the original resized straight to S×S as the base view (first). Every crop then gets the CLIP
/// rescale and normalisation of <see cref="Crops"/> (its resize and crop are no-ops at S×S).
/// </summary>
public sealed class AnyresImageProcessor
{
    /// <summary>Normalises each S×S crop (S = its crop size).</summary>
    public ClipImageProcessor Crops { get; }

    /// <summary>Candidate canvases as (height, width), in the checkpoint's list order (it decides ties).</summary>
    public IReadOnlyList<ImageResolution> Pinpoints { get; }

    public AnyresVariant Variant { get; }

    public int CropSize => Crops.Options.CropHeight;

    /// <summary>Patch size of the vision tower (for the token arithmetic of <see cref="Layout"/>).</summary>
    public int PatchSize { get; }

    public AnyresImageProcessor(ClipImageProcessorOptions crops, IReadOnlyList<ImageResolution> pinpoints, int patchSize,
                                AnyresVariant variant = AnyresVariant.Hf)
    {
        if (crops.CropHeight != crops.CropWidth || crops.ShortestEdge != crops.CropHeight || crops.AspectMode != ClipAspectMode.CenterCrop)
            throw new ArgumentException($"anyres crops must be square and already at the processor's size: shortest_edge {crops.ShortestEdge}, " +
                                        $"crop {crops.CropWidth}x{crops.CropHeight}, aspect {crops.AspectMode} (expected shortest_edge = crop size, centre crop)");
        Crops = new ClipImageProcessor(crops);
        Pinpoints = pinpoints;
        PatchSize = patchSize;
        Variant = variant;
    }

    /// <summary>How a <paramref name="width"/>×<paramref name="height"/> image is cut and how many tokens it gives.</summary>
    public AnyresLayout Layout(int width, int height) => AnyresLayout.For(width, height, Pinpoints, CropSize, PatchSize, Variant);

    /// <summary>HF get_patch_output_size: the size of the aspect-preserving resize into the chosen canvas.</summary>
    public static (int Width, int Height) ResizeForPatching(int width, int height, ImageResolution canvas)
    {
        double scaleWidth = (double)canvas.Width / width, scaleHeight = (double)canvas.Height / height;
        return scaleWidth < scaleHeight
            ? (canvas.Width, Math.Min((int)Math.Ceiling(height * scaleWidth), canvas.Height))
            : (Math.Min((int)Math.Ceiling(width * scaleHeight), canvas.Width), canvas.Height);
    }

    /// <summary>The 8-bit crops before rescaling: base view first, then the tiles row by row.</summary>
    public IReadOnlyList<RgbImage> PrepareCrops(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var layout = Layout(image.Width, image.Height);
        var canvas = layout.Canvas;
        var (w, h) = ResizeForPatching(image.Width, image.Height, canvas);
        var padded = ImageOps.PadCentred(PillowResize.Bicubic(image, w, h), canvas.Width, canvas.Height);
        var crops = new List<RgbImage>(layout.Crops) { PillowResize.Bicubic(image, CropSize, CropSize) };
        for (int r = 0; r < layout.Rows; r++)
            for (int c = 0; c < layout.Columns; c++)
                crops.Add(ImageOps.Crop(padded, c * CropSize, r * CropSize, CropSize, CropSize));
        return crops;
    }

    /// <summary>Pixel values [crops, 3, S, S] float32 of one image.</summary>
    public Tensor Preprocess(RgbImage image) => Crops.Preprocess(PrepareCrops(image));

    /// <summary>
    /// HF's batch layout: pixel values [n, max crops, 3, S, S] (images with fewer crops padded with zero crops, which
    /// the model slices off) and image_sizes [n, 2] as (height, width).
    /// </summary>
    public (Tensor PixelValues, Tensor ImageSizes) Preprocess(IReadOnlyList<RgbImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new ArgumentException("no images to preprocess", nameof(images));
        using var scope = NewDisposeScope();
        var perImage = images.Select(Preprocess).ToList();
        long maxCrops = perImage.Max(p => p.shape[0]);
        var padded = perImage.Select(p => p.shape[0] == maxCrops ? p
            : cat([p, zeros([maxCrops - p.shape[0], 3, CropSize, CropSize], ScalarType.Float32)], 0)).ToArray();
        var sizes = tensor(images.SelectMany(i => new long[] { i.Height, i.Width }).ToArray(), [images.Count, 2], ScalarType.Int64);
        return (stack(padded).MoveToOuterDisposeScope(), sizes.MoveToOuterDisposeScope());
    }
}
