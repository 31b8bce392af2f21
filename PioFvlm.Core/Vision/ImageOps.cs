namespace PioFvlm.Core.Vision;

/// <summary>Pixel-exact geometric operations the LLaVA preprocessors apply to 8-bit images.</summary>
public static class ImageOps
{
    /// <summary>
    /// LLaVA research <c>expand2square</c>: a max(W,H) square filled with <paramref name="background"/>, the image
    /// pasted at ((side − W) / 2, (side − H) / 2) (integer division). A square image is returned unchanged.
    /// </summary>
    public static RgbImage ExpandToSquare(RgbImage image, (byte R, byte G, byte B) background)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Width == image.Height) return image;
        int side = Math.Max(image.Width, image.Height);
        var square = RgbImage.Filled(side, side, background.R, background.G, background.B);
        Paste(image, square, (side - image.Width) / 2, (side - image.Height) / 2);
        return square;
    }

    /// <summary>
    /// HF <c>image_transforms.center_crop</c>: top = ⌊(H − h)/2⌋, left = ⌊(W − w)/2⌋. Where the image is smaller than
    /// the crop it is first centred on a black canvas (offset ⌈(h − H)/2⌉), as HF does.
    /// </summary>
    public static RgbImage CenterCrop(RgbImage image, int cropWidth, int cropHeight)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (cropWidth <= 0 || cropHeight <= 0)
            throw new ArgumentOutOfRangeException(nameof(cropWidth), $"crop size {cropWidth}x{cropHeight} must be positive");
        if (cropWidth == image.Width && cropHeight == image.Height) return image;

        var source = image;
        if (cropWidth > image.Width || cropHeight > image.Height)
        {
            int canvasWidth = Math.Max(cropWidth, image.Width), canvasHeight = Math.Max(cropHeight, image.Height);
            source = new RgbImage(canvasWidth, canvasHeight, new byte[(long)canvasWidth * canvasHeight * 3]);
            Paste(image, source, CeilHalf(canvasWidth - image.Width), CeilHalf(canvasHeight - image.Height));
        }
        // HF: top = ⌊(H − h)/2⌋ + ⌈pad/2⌉ where pad > 0 only when H < h, and then the sum is 0; so in the (possibly
        // padded) canvas the window starts at ⌊(canvas − crop)/2⌋ on each axis.
        int top = (source.Height - cropHeight) / 2, left = (source.Width - cropWidth) / 2;
        return Crop(source, left, top, cropWidth, cropHeight);
    }

    /// <summary>The <paramref name="width"/>×<paramref name="height"/> window whose top-left corner is (x, y).</summary>
    public static RgbImage Crop(RgbImage image, int x, int y, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (x < 0 || y < 0 || width <= 0 || height <= 0 || x + width > image.Width || y + height > image.Height)
            throw new ArgumentOutOfRangeException(nameof(x), $"crop window ({x}, {y}, {width}x{height}) is outside {image}");
        var dst = new byte[(long)width * height * 3];
        for (int row = 0; row < height; row++)
            Array.Copy(image.Pixels, ((long)(y + row) * image.Width + x) * 3, dst, (long)row * width * 3, (long)width * 3);
        return new RgbImage(width, height, dst);
    }

    /// <summary>
    /// HF LLaVA-NeXT <c>_pad_for_patching</c> / research <c>resize_and_pad_image</c>: the image centred on a black
    /// <paramref name="width"/>×<paramref name="height"/> canvas, left = ⌊(W' − W)/2⌋, top = ⌊(H' − H)/2⌋.
    /// </summary>
    public static RgbImage PadCentred(RgbImage image, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (width < image.Width || height < image.Height)
            throw new ArgumentOutOfRangeException(nameof(width), $"canvas {width}x{height} is smaller than {image}");
        if (width == image.Width && height == image.Height) return image;
        var canvas = new RgbImage(width, height, new byte[(long)width * height * 3]);
        Paste(image, canvas, (width - image.Width) / 2, (height - image.Height) / 2);
        return canvas;
    }

    static void Paste(RgbImage src, RgbImage dst, int x, int y)
    {
        for (int row = 0; row < src.Height; row++)
            Array.Copy(src.Pixels, (long)row * src.Width * 3, dst.Pixels, ((long)(y + row) * dst.Width + x) * 3, (long)src.Width * 3);
    }

    static int CeilHalf(int v) => (int)Math.Ceiling(v / 2.0);
}
