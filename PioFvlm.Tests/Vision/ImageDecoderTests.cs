using PioFvlm.Core.Vision;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Vision;

public class ImageDecoderTests
{
    [Test]
    public void HandBuiltRgbPngDecodesToItsPixels()
    {
        Func<int, int, int, byte> pixel = (x, y, c) => (byte)(x * 60 + y * 100 + c * 7);
        var png = VisionTestData.Png(3, 2, 2, VisionTestData.Unfiltered(3, 2, 3, pixel));

        var image = ImageDecoder.Decode(png);

        Assert.That((image.Width, image.Height), Is.EqualTo((3, 2)));
        Assert.That(image.Pixels, Is.EqualTo(VisionTestData.Image(3, 2, pixel).Pixels));
    }

    [Test]
    public void HandBuiltGreyAndRgbaPngsBecomeRgbLikePilConvert()
    {
        var grey = ImageDecoder.Decode(VisionTestData.Png(2, 1, 0, [0, 17, 250]));
        Assert.That(grey.Pixels, Is.EqualTo(new byte[] { 17, 17, 17, 250, 250, 250 }));

        var rgba = ImageDecoder.Decode(VisionTestData.Png(2, 1, 6, [0, 1, 2, 3, 0, 200, 100, 50, 255]));
        Assert.That(rgba.Pixels, Is.EqualTo(new byte[] { 1, 2, 3, 200, 100, 50 }), "alpha is dropped, colour kept");
    }

    /// <summary>Oracle: PIL's <c>Image.open(f).convert("RGB")</c> of PNGs PIL wrote in modes L, LA, RGBA and P.</summary>
    [TestCase("L")]
    [TestCase("LA")]
    [TestCase("RGBA")]
    [TestCase("P")]
    public void PilWrittenPngModesMatchPilConvertRgb(string mode)
    {
        var image = ImageDecoder.Decode(VisionTestData.File($"mode_{mode}.png"));
        Assert.That((image.Width, image.Height), Is.EqualTo((6, 5)));
        Assert.That(image.Pixels, Is.EqualTo(VisionTestData.Bytes($"mode_{mode}.rgb")));
    }

    [Test]
    public void JpegDecodesCloseToLibjpeg()
    {
        // stb_image and libjpeg use different IDCTs, so only closeness is expected (llava.md §6.3: fixtures use PNG).
        var image = ImageDecoder.Decode(VisionTestData.File("jpeg_16x16.jpg"));
        var expected = VisionTestData.Bytes("jpeg_16x16.rgb");
        Assert.That((image.Width, image.Height), Is.EqualTo((16, 16)));
        int maxDiff = image.Pixels.Zip(expected).Max(p => Math.Abs(p.First - p.Second));
        Assert.That(maxDiff, Is.LessThanOrEqualTo(3), "max |stb − libjpeg| per channel");
        Assert.That(image[2, 2, 0], Is.InRange(195, 205), "top-left block is (200, 30, 40)");
    }

    [Test]
    public void BytesStreamAndPathGiveTheSameImage()
    {
        var path = VisionTestData.File("src_23x17.png");
        var fromPath = ImageDecoder.Decode(path);
        var fromBytes = ImageDecoder.Decode(File.ReadAllBytes(path));
        using var stream = File.OpenRead(path);
        var fromStream = ImageDecoder.Decode(stream);
        Assert.That(fromBytes.Pixels, Is.EqualTo(fromPath.Pixels));
        Assert.That(fromStream.Pixels, Is.EqualTo(fromPath.Pixels));
    }

    [Test]
    public void NotAnImageNamesTheFile()
    {
        using var dir = new TempDir();
        var path = dir.File("notes.txt");
        File.WriteAllText(path, "hello, this is text and not a picture");
        Assert.That(() => ImageDecoder.Decode(path),
            Throws.TypeOf<ImageDecodeException>().With.Message.Contains("notes.txt").And.Message.Contains("not a recognised image"));
    }

    [Test]
    public void MissingFileNamesTheFile()
    {
        Assert.That(() => ImageDecoder.Decode("/nonexistent/cat.png"),
            Throws.TypeOf<ImageDecodeException>().With.Message.Contains("/nonexistent/cat.png").And.Message.Contains("not found"));
    }

    [Test]
    public void EmptyDataIsRefused()
    {
        Assert.That(() => ImageDecoder.Decode([], "empty.png"),
            Throws.TypeOf<ImageDecodeException>().With.Message.Contains("empty.png").And.Message.Contains("0 bytes"));
    }

    [Test]
    public void TruncatedPngIsRefused()
    {
        var png = VisionTestData.Bytes("src_80x60.png");
        var cut = png.AsSpan(0, png.Length / 2).ToArray();
        Assert.That(() => ImageDecoder.Decode(cut, "cut.png"),
            Throws.TypeOf<ImageDecodeException>().With.Message.Contains("cut.png").And.Message.Contains("truncated"));
    }

    [Test]
    public void PngWithoutIendIsRefused()
    {
        var png = VisionTestData.Png(2, 2, 2, VisionTestData.Unfiltered(2, 2, 3, (_, _, _) => 9), includeIend: false);
        Assert.That(() => ImageDecoder.Decode(png, "noend.png"),
            Throws.TypeOf<ImageDecodeException>().With.Message.Contains("truncated PNG"));
    }

    [Test]
    public void TruncatedJpegIsRefused()
    {
        var jpg = VisionTestData.Bytes("jpeg_16x16.jpg");
        var cut = jpg.AsSpan(0, jpg.Length - 100).ToArray();
        Assert.That(() => ImageDecoder.Decode(cut, "cut.jpg"),
            Throws.TypeOf<ImageDecodeException>().With.Message.Contains("cut.jpg").And.Message.Contains("truncated JPEG"));
    }

    [Test]
    public void ZeroSizeHeaderIsRefused()
    {
        var png = VisionTestData.Png(0, 5, 2, []);
        Assert.That(() => ImageDecoder.Decode(png, "zero.png"),
            Throws.TypeOf<ImageDecodeException>().With.Message.Contains("zero size (0x5)"));
    }

    [TestCase(30_000u, 10u)]
    [TestCase(15_000u, 15_000u)]   // each side allowed, 225 megapixels not
    [TestCase(4_000_000_000u, 1u)]
    public void AbsurdSizeIsRefusedBeforeDecoding(uint w, uint h)
    {
        // Only the header exists: the pixel data is 1 row of 3 bytes, so refusing must come from the header.
        var png = VisionTestData.Png(w, h, 2, [0, 1, 2, 3]);
        Assert.That(() => ImageDecoder.Decode(png, "huge.png"),
            Throws.TypeOf<ImageDecodeException>().With.Message.Contains("huge.png").And.Message.Contains("larger than"));
    }

    [Test]
    public void CorruptPixelDataIsRefused()
    {
        var png = VisionTestData.Png(4, 4, 2, VisionTestData.Unfiltered(4, 4, 3, (x, y, c) => (byte)(x + y + c)));
        // Flip bytes inside the IDAT's zlib stream (after the 2-byte zlib header).
        int idat = png.AsSpan().IndexOf("IDAT"u8);
        for (int i = idat + 6; i < idat + 12; i++) png[i] ^= 0xA5;
        Assert.That(() => ImageDecoder.Decode(png, "bad.png"),
            Throws.TypeOf<ImageDecodeException>().With.Message.Contains("bad.png"));
    }
}
