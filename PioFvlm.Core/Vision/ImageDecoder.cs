using System.Buffers.Binary;
using StbImageSharp;

namespace PioFvlm.Core.Vision;

/// <summary>
/// Decodes PNG, JPEG, BMP, GIF (first frame), TGA, PSD and HDR files to 8-bit RGB with StbImageSharp.
/// Grey is replicated to three channels and alpha is dropped, as PIL's <c>convert("RGB")</c> does (HF's
/// processors and the LLaVA research code both call it). The size is checked from the header before the
/// pixel data is decoded, so a hostile header cannot make us allocate gigabytes.
/// </summary>
public static class ImageDecoder
{
    /// <summary>Largest accepted width or height.</summary>
    public const int MaxSide = 20_000;

    /// <summary>Largest accepted pixel count (200 megapixels, 600 MB as RGB).</summary>
    public const long MaxPixels = 200_000_000;

    static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Decodes the image file at <paramref name="path"/>.</summary>
    public static RgbImage Decode(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] data;
        try
        {
            data = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ImageDecodeException(path, "file not found", e);
        }
        return Decode(data, path);
    }

    /// <summary>Decodes an encoded image held in memory; <paramref name="sourceName"/> names it in errors.</summary>
    public static RgbImage Decode(byte[] data, string sourceName = "<bytes>")
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length == 0)
            throw new ImageDecodeException(sourceName, "empty data (0 bytes), not an image");

        var (width, height) = ReadHeaderSize(data, sourceName);
        CheckSize(width, height, sourceName);
        CheckNotTruncated(data, sourceName);

        ImageResult result;
        try
        {
            result = ImageResult.FromMemory(data, ColorComponents.RedGreenBlue);
        }
        catch (Exception e) when (e is InvalidOperationException or IndexOutOfRangeException or ArgumentException or NullReferenceException)
        {
            throw new ImageDecodeException(sourceName, $"corrupt or truncated image data ({e.Message})", e);
        }
        if (result.Width != width || result.Height != height || result.Data.LongLength != (long)width * height * 3)
            throw new ImageDecodeException(sourceName,
                $"decoder returned {result.Width}x{result.Height} with {result.Data.LongLength} bytes for a {width}x{height} header");
        return new RgbImage(width, height, result.Data);
    }

    /// <summary>Decodes an encoded image read to the end of <paramref name="stream"/>.</summary>
    public static RgbImage Decode(Stream stream, string sourceName = "<stream>")
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return Decode(copy.ToArray(), sourceName);
    }

    /// <summary>Width and height from the header, without decoding pixels.</summary>
    static (int Width, int Height) ReadHeaderSize(byte[] data, string sourceName)
    {
        // PNG: read IHDR ourselves so a zero or huge size gets its own message (stbi rejects both as "not an image").
        if (data.AsSpan().StartsWith(PngSignature))
        {
            if (data.Length < 24 || data[12] != 'I' || data[13] != 'H' || data[14] != 'D' || data[15] != 'R')
                throw new ImageDecodeException(sourceName, "truncated PNG: header (IHDR) missing");
            uint w = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(16, 4));
            uint h = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(20, 4));
            return ((int)Math.Min(w, int.MaxValue), (int)Math.Min(h, int.MaxValue));
        }

        ImageInfo? info;
        try
        {
            info = ImageInfo.FromStream(new MemoryStream(data, writable: false));
        }
        catch (Exception e) when (e is InvalidOperationException or IndexOutOfRangeException or ArgumentException or EndOfStreamException)
        {
            throw new ImageDecodeException(sourceName, $"unreadable image header ({e.Message})", e);
        }
        if (info is null)
            throw new ImageDecodeException(sourceName,
                $"not a recognised image (PNG, JPEG, BMP, GIF, TGA, PSD or HDR); first bytes: {Convert.ToHexString(data.AsSpan(0, Math.Min(8, data.Length)))}");
        return (info.Value.Width, info.Value.Height);
    }

    static void CheckSize(int width, int height, string sourceName)
    {
        if (width <= 0 || height <= 0)
            throw new ImageDecodeException(sourceName, $"image has zero size ({width}x{height})");
        if (width > MaxSide || height > MaxSide || (long)width * height > MaxPixels)
            throw new ImageDecodeException(sourceName,
                $"image is {width}x{height}, larger than the accepted {MaxSide} per side and {MaxPixels / 1_000_000} megapixels");
    }

    /// <summary>
    /// PIL refuses truncated files (its default <c>LOAD_TRUNCATED_IMAGES = False</c>) while stb_image fills the
    /// missing part of a JPEG with grey; check the end markers so a cut-off file fails instead of decoding wrongly.
    /// </summary>
    static void CheckNotTruncated(byte[] data, string sourceName)
    {
        var span = data.AsSpan();
        if (span.StartsWith(PngSignature) && span.LastIndexOf("IEND"u8) < 0)
            throw new ImageDecodeException(sourceName, $"truncated PNG: no IEND chunk in {data.Length} bytes");
        if (span.Length >= 2 && span[0] == 0xFF && span[1] == 0xD8 && span.LastIndexOf([(byte)0xFF, (byte)0xD9]) < 0)
            throw new ImageDecodeException(sourceName, $"truncated JPEG: no end-of-image marker in {data.Length} bytes");
    }
}
