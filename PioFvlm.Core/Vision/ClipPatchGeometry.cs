namespace PioFvlm.Core.Vision;

/// <summary>A rectangle [X0, X1) × [Y0, Y1) in pixel coordinates of an image; empty when X1 ≤ X0 or Y1 ≤ Y0.</summary>
public readonly record struct ImageRect(double X0, double Y0, double X1, double Y1)
{
    public bool IsEmpty => X1 <= X0 || Y1 <= Y0;
}

/// <summary>
/// Where each ViT patch of the square crop <see cref="ClipImageProcessor"/> makes lies in the ORIGINAL image: the
/// processor's steps (research pad-to-square, shortest-edge resize, centre crop) inverted, so a patch's rectangle in
/// the crop maps back through the crop window, the resize scale and the padding offset. Patches over padding come back
/// clipped to the image (empty when wholly outside it); image borders a centre crop cut off belong to no patch.
/// </summary>
public static class ClipPatchGeometry
{
    /// <summary>One rectangle per patch, row-major over the crop's (CropHeight / patch) × (CropWidth / patch) grid.</summary>
    /// <exception cref="ArgumentException">The patch size does not divide the crop.</exception>
    public static IReadOnlyList<ImageRect> PatchRectangles(ClipImageProcessorOptions options, int patchSize, int imageWidth, int imageHeight)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (patchSize <= 0 || options.CropWidth % patchSize != 0 || options.CropHeight % patchSize != 0)
            throw new ArgumentException($"patch size {patchSize} does not divide the {options.CropWidth}x{options.CropHeight} crop", nameof(patchSize));
        if (imageWidth <= 0 || imageHeight <= 0)
            throw new ArgumentOutOfRangeException(nameof(imageWidth), $"image size {imageWidth}x{imageHeight} must be positive");

        // Pad mode: the image sits centred in a max-side square (ImageOps.ExpandToSquare's offsets).
        int sourceWidth = imageWidth, sourceHeight = imageHeight, padX = 0, padY = 0;
        if (options.AspectMode == ClipAspectMode.Pad && imageWidth != imageHeight)
        {
            int side = Math.Max(imageWidth, imageHeight);
            padX = (side - imageWidth) / 2;
            padY = (side - imageHeight) / 2;
            sourceWidth = sourceHeight = side;
        }
        var (resizedWidth, resizedHeight) = ClipImageProcessor.ShortestEdgeSize(sourceWidth, sourceHeight, options.ShortestEdge);
        double scaleX = (double)resizedWidth / sourceWidth, scaleY = (double)resizedHeight / sourceHeight;
        // The crop window's origin in resized coordinates (ImageOps.CenterCrop: a smaller image is centred on a canvas first).
        double windowX = WindowStart(resizedWidth, options.CropWidth), windowY = WindowStart(resizedHeight, options.CropHeight);

        int columns = options.CropWidth / patchSize, rows = options.CropHeight / patchSize;
        var rects = new ImageRect[rows * columns];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
            {
                double x0 = (c * patchSize + windowX) / scaleX - padX, x1 = ((c + 1) * patchSize + windowX) / scaleX - padX;
                double y0 = (r * patchSize + windowY) / scaleY - padY, y1 = ((r + 1) * patchSize + windowY) / scaleY - padY;
                rects[r * columns + c] = new ImageRect(Math.Clamp(x0, 0, imageWidth), Math.Clamp(y0, 0, imageHeight),
                                                       Math.Clamp(x1, 0, imageWidth), Math.Clamp(y1, 0, imageHeight));
            }
        return rects;
    }

    static int WindowStart(int resized, int crop) => crop <= resized ? (resized - crop) / 2 : -((crop - resized + 1) / 2);
}
