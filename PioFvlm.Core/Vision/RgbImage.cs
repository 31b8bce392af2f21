namespace PioFvlm.Core.Vision;

/// <summary>
/// An 8-bit RGB image, rows top to bottom, pixels interleaved R,G,B (the layout of PIL's "RGB" mode and of
/// numpy's HWC arrays). The pixel array is owned by the image; operations return new images.
/// </summary>
public sealed class RgbImage
{
    public int Width { get; }
    public int Height { get; }

    /// <summary>Width · Height · 3 bytes, index (y · Width + x) · 3 + channel.</summary>
    public byte[] Pixels { get; }

    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"image size {width}x{height} must be positive");
        long expected = (long)width * height * 3;
        if (pixels.LongLength != expected)
            throw new ArgumentException($"an RGB image of {width}x{height} needs {expected} bytes, got {pixels.LongLength}", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>An image of one colour.</summary>
    public static RgbImage Filled(int width, int height, byte r, byte g, byte b)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"image size {width}x{height} must be positive");
        var pixels = new byte[(long)width * height * 3];
        for (long i = 0; i < pixels.LongLength; i += 3)
        {
            pixels[i] = r;
            pixels[i + 1] = g;
            pixels[i + 2] = b;
        }
        return new RgbImage(width, height, pixels);
    }

    /// <summary>One channel value of one pixel.</summary>
    public byte this[int x, int y, int channel] => Pixels[((long)y * Width + x) * 3 + channel];

    public override string ToString() => $"RgbImage {Width}x{Height}";
}
