namespace PioFvlm.Core.Vision;

/// <summary>
/// Pillow's <c>Image.resize(size, Image.BICUBIC)</c> on 8-bit RGB, reimplemented for bit-exact parity with
/// HF's PIL image processors and the LLaVA research code (llava.md §6.3). Two separable passes, horizontal
/// first except where Pillow 13 runs the vertical one first (<see cref="VerticalFirst"/>), each rounding to an 8-bit image; weights are the Keys cubic (a = −0.5) widened by the downscale
/// factor (antialiasing), normalised to sum 1, then turned into 22-bit fixed point.
/// </summary>
public static class PillowResize
{
    /// <summary>Fractional bits of the fixed-point weights: 32 − 8 (pixel) − 2 (headroom for negative lobes).</summary>
    internal const int PrecisionBits = 32 - 8 - 2;

    /// <summary>Support radius of the bicubic filter, in source pixels, before widening by the downscale factor.</summary>
    internal const double BicubicSupport = 2.0;

    /// <summary>Resizes with Pillow's BICUBIC filter. Same size returns a copy, as Pillow does.</summary>
    public static RgbImage Bicubic(RgbImage image, int newWidth, int newHeight)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (newWidth <= 0 || newHeight <= 0)
            throw new ArgumentOutOfRangeException(nameof(newWidth), $"resize target {newWidth}x{newHeight} of {image} must be positive");

        bool needHorizontal = newWidth != image.Width;
        bool needVertical = newHeight != image.Height;
        if (!needHorizontal && !needVertical)
            return new RgbImage(image.Width, image.Height, (byte[])image.Pixels.Clone());

        var vertical = FixedPointCoefficients(image.Height, newHeight);
        if (needHorizontal && needVertical && VerticalFirst(image.Width, image.Height, newWidth, newHeight))
            return ResampleHorizontal(ResampleVertical(image, vertical), FixedPointCoefficients(image.Width, newWidth), 0, newHeight);
        var current = image;
        if (needHorizontal)
        {
            // Like Pillow, the horizontal pass covers only the source rows the vertical pass will read.
            int firstRow = vertical.Start[0];
            int lastRow = vertical.Start[newHeight - 1] + vertical.Count[newHeight - 1];
            current = ResampleHorizontal(image, FixedPointCoefficients(image.Width, newWidth), firstRow, lastRow - firstRow);
            for (int i = 0; i < newHeight; i++)
                vertical.Start[i] -= firstRow;
        }
        return needVertical ? ResampleVertical(current, vertical) : current;
    }

    /// <summary>
    /// Pillow 13 (python-pillow/Pillow#9549) runs the vertical pass first when the height shrinks and the width does
    /// not (the pass order changes the intermediate 8-bit rounding, up to 10 levels on a 15x32 -> 28x28 resize; found
    /// against Pillow 13.0 with random images: every such resize went vertical first). Pillow 13 also goes vertical first
    /// for some resizes that shrink both axes, the height much more; that rule is not reproduced here (see
    /// PillowResizeTests), so such resizes may differ from Pillow 13 by a few levels.
    /// </summary>
    internal static bool VerticalFirst(int width, int height, int newWidth, int newHeight) =>
        newHeight < height && newWidth >= width;

    /// <summary>The Keys cubic convolution kernel with a = −0.5, evaluated in Pillow's operation order.</summary>
    internal static double BicubicKernel(double x)
    {
        const double a = -0.5;
        if (x < 0.0) x = -x;
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    /// <summary>Per output index: first source index, tap count, and KSize fixed-point weights (row-major).</summary>
    internal sealed record Coefficients(int[] Start, int[] Count, int KSize, int[] Weights);

    /// <summary>Pillow's <c>precompute_coeffs</c> for the whole axis followed by <c>normalize_coeffs_8bpc</c>.</summary>
    internal static Coefficients FixedPointCoefficients(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = BicubicSupport * filterScale;
        int kSize = (int)Math.Ceiling(support) * 2 + 1;

        var start = new int[outSize];
        var count = new int[outSize];
        var weights = new int[outSize * kSize];
        var k = new double[kSize];
        double invFilterScale = 1.0 / filterScale;
        for (int o = 0; o < outSize; o++)
        {
            double center = (o + 0.5) * scale;
            // C's (int) cast truncates toward zero; a negative value is clamped to 0 right after, so this matches.
            int min = Math.Max((int)(center - support + 0.5), 0);
            int max = Math.Min((int)(center + support + 0.5), inSize) - min;
            double sum = 0.0;
            for (int x = 0; x < max; x++)
            {
                double w = BicubicKernel((x + min - center + 0.5) * invFilterScale);
                k[x] = w;
                sum += w;
            }
            for (int x = 0; x < max; x++)
            {
                double normalised = sum != 0.0 ? k[x] / sum : k[x];
                double scaled = normalised * (1 << PrecisionBits);
                // Round half away from zero, then truncate, as Pillow's normalize_coeffs_8bpc.
                weights[o * kSize + x] = (int)(normalised < 0 ? scaled - 0.5 : scaled + 0.5);
            }
            start[o] = min;
            count[o] = max;
        }
        return new Coefficients(start, count, kSize, weights);
    }

    /// <summary>Adds the rounding half, drops the fraction (arithmetic shift = floor), clamps to 0..255.</summary>
    static byte Clip8(int accumulator) => (byte)Math.Clamp(accumulator >> PrecisionBits, 0, 255);

    static RgbImage ResampleHorizontal(RgbImage src, Coefficients c, int rowOffset, int rows)
    {
        int outWidth = c.Start.Length;
        var dst = new byte[(long)outWidth * rows * 3];
        var s = src.Pixels;
        for (int y = 0; y < rows; y++)
        {
            long srcRow = (long)(y + rowOffset) * src.Width * 3;
            long dstRow = (long)y * outWidth * 3;
            for (int xx = 0; xx < outWidth; xx++)
            {
                int min = c.Start[xx], n = c.Count[xx], kBase = xx * c.KSize;
                int r = 1 << (PrecisionBits - 1), g = r, b = r;
                for (int x = 0; x < n; x++)
                {
                    int w = c.Weights[kBase + x];
                    long p = srcRow + (long)(x + min) * 3;
                    r += s[p] * w;
                    g += s[p + 1] * w;
                    b += s[p + 2] * w;
                }
                long d = dstRow + xx * 3L;
                dst[d] = Clip8(r);
                dst[d + 1] = Clip8(g);
                dst[d + 2] = Clip8(b);
            }
        }
        return new RgbImage(outWidth, rows, dst);
    }

    static RgbImage ResampleVertical(RgbImage src, Coefficients c)
    {
        int outHeight = c.Start.Length;
        int width = src.Width;
        var dst = new byte[(long)width * outHeight * 3];
        var s = src.Pixels;
        for (int yy = 0; yy < outHeight; yy++)
        {
            int min = c.Start[yy], n = c.Count[yy], kBase = yy * c.KSize;
            long dstRow = (long)yy * width * 3;
            for (int xx = 0; xx < width; xx++)
            {
                int r = 1 << (PrecisionBits - 1), g = r, b = r;
                for (int y = 0; y < n; y++)
                {
                    int w = c.Weights[kBase + y];
                    long p = ((long)(y + min) * width + xx) * 3;
                    r += s[p] * w;
                    g += s[p + 1] * w;
                    b += s[p + 2] * w;
                }
                long d = dstRow + xx * 3L;
                dst[d] = Clip8(r);
                dst[d + 1] = Clip8(g);
                dst[d + 2] = Clip8(b);
            }
        }
        return new RgbImage(width, outHeight, dst);
    }
}
