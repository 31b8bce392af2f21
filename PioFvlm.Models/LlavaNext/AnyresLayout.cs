using PioFvlm.Models.Configs;

namespace PioFvlm.Models.LlavaNext;

/// <summary>
/// How LLaVA-NeXT's anyres cuts one W×H image (spec llava.md §5.2-5.4, HF's processor and pack_image_features): the
/// best canvas among the pinpoints, its R×C grid of crops, and the feature map left after unpadding.
/// </summary>
/// <param name="Canvas">The chosen pinpoint (height, width) in pixels.</param>
/// <param name="Rows">Crop rows R = canvas height / crop size.</param>
/// <param name="Columns">Crop columns C = canvas width / crop size.</param>
/// <param name="GridSide">Patches per crop side g = crop size / patch size (24 for CLIP-L/14 at 336).</param>
/// <param name="UnpaddedHeight">Feature-map rows h' kept after unpadding (of R·g).</param>
/// <param name="UnpaddedWidth">Feature-map columns w' kept after unpadding (of C·g).</param>
public readonly record struct AnyresLayout(ImageResolution Canvas, int Rows, int Columns, int GridSide, int UnpaddedHeight, int UnpaddedWidth)
{
    /// <summary>The base view's tokens: g² (576).</summary>
    public int BaseTokens => GridSide * GridSide;

    /// <summary>The grid's tokens: h' rows of w' features plus one image_newline each.</summary>
    public int GridTokens => UnpaddedHeight * (UnpaddedWidth + 1);

    /// <summary>Visual tokens of the image: base view first, then the unpadded grid with newlines.</summary>
    public int Tokens => BaseTokens + GridTokens;

    /// <summary>Visual tokens without the newlines: what pruning budgets and kept counts refer to.</summary>
    public int VisualTokens => BaseTokens + UnpaddedHeight * UnpaddedWidth;

    /// <summary>Crops the processor cuts: the base view and R·C tiles.</summary>
    public int Crops => 1 + Rows * Columns;

    /// <summary>Feature-map rows (of R·g) dropped at the top by unpadding (as many go at the bottom).</summary>
    public int UnpadTop => (Rows * GridSide - UnpaddedHeight) / 2;

    /// <summary>Feature-map columns (of C·g) dropped at the left by unpadding (as many go at the right).</summary>
    public int UnpadLeft => (Columns * GridSide - UnpaddedWidth) / 2;

    /// <summary>The layout of a <paramref name="width"/>×<paramref name="height"/> image.</summary>
    /// <exception cref="ArgumentException">A non-positive size, no pinpoints, or a pinpoint that is not a whole number of crops.</exception>
    public static AnyresLayout For(int width, int height, IReadOnlyList<ImageResolution> pinpoints, int cropSize = 336, int patchSize = 14,
                                   AnyresVariant variant = AnyresVariant.Hf)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"image size {width}×{height} must be positive");
        if (cropSize < 1 || patchSize < 1 || cropSize % patchSize != 0)
            throw new ArgumentException($"crop size {cropSize} is not a whole number of {patchSize}-pixel patches");
        var canvas = BestResolution(width, height, pinpoints);
        if (canvas.Height % cropSize != 0 || canvas.Width % cropSize != 0)
            throw new ArgumentException($"anyres pinpoint {canvas.Height}×{canvas.Width} (height×width) is not a whole number of {cropSize}-pixel crops");
        int g = cropSize / patchSize, rows = canvas.Height / cropSize, columns = canvas.Width / cropSize;
        var (h, w) = Unpadded(rows * g, columns * g, width, height, variant);
        return new AnyresLayout(canvas, rows, columns, g, h, w);
    }

    /// <summary>
    /// HF's select_best_resolution: for each pinpoint in list order, scale the image to fit (s = min(pw/W, ph/H),
    /// sizes truncated), effective = min(dw·dh, W·H), wasted = ph·pw − effective; the most effective pixels win,
    /// then the least waste, then the earlier entry.
    /// </summary>
    public static ImageResolution BestResolution(int width, int height, IReadOnlyList<ImageResolution> pinpoints)
    {
        if (pinpoints.Count == 0) throw new ArgumentException("anyres needs at least one image_grid_pinpoints entry");
        ImageResolution? best = null;
        long bestEffective = -1, bestWasted = long.MaxValue;
        foreach (var p in pinpoints)
        {
            double scale = Math.Min((double)p.Width / width, (double)p.Height / height);
            long downWidth = (long)(width * scale), downHeight = (long)(height * scale);
            long effective = Math.Min(downWidth * downHeight, (long)width * height);
            long wasted = (long)p.Width * p.Height - effective;
            if (effective > bestEffective || (effective == bestEffective && wasted < bestWasted))
                (best, bestEffective, bestWasted) = (p, effective, wasted);
        }
        return best!.Value;
    }

    /// <summary>
    /// HF's unpad_image on a <paramref name="mapHeight"/>×<paramref name="mapWidth"/> feature map of a
    /// W×H original: the side with the padding loses ⌊(cur − new)/2⌋ rows or columns at each end, new =
    /// int(round(side·scale, 7)) (research: int(side·scale)).
    /// </summary>
    public static (int Height, int Width) Unpadded(int mapHeight, int mapWidth, int width, int height, AnyresVariant variant = AnyresVariant.Hf)
    {
        int Truncate(double x) => variant == AnyresVariant.Hf ? (int)Math.Round(x, 7) : (int)x;
        double originalAspect = (double)width / height, mapAspect = (double)mapWidth / mapHeight;
        if (originalAspect > mapAspect)
        {
            int newHeight = Truncate(height * ((double)mapWidth / width));
            int pad = (mapHeight - newHeight) / 2;
            return (mapHeight - 2 * pad, mapWidth);
        }
        int newWidth = Truncate(width * ((double)mapHeight / height));
        int padding = (mapWidth - newWidth) / 2;
        return (mapHeight, mapWidth - 2 * padding);
    }
}
