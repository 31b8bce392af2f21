using PioFvlm.Core.Vision;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Vision;

public class ClipImageProcessorTests
{
    static ClipImageProcessorOptions Tiny(ClipAspectMode mode = ClipAspectMode.CenterCrop) =>
        new() { ShortestEdge = 28, CropWidth = 28, CropHeight = 28, AspectMode = mode };

    // Hand values: long side = int(edge · long / short), truncated (llava.md §6.1).
    [TestCase(640, 480, 336, 448, 336)]     // 336·640/480 = 448 exactly
    [TestCase(480, 640, 336, 336, 448)]
    [TestCase(336, 336, 336, 336, 336)]
    [TestCase(1000, 333, 336, 1009, 336)]   // 336000/333 = 1009.009
    [TestCase(56, 42, 28, 37, 28)]          // 1568/42 = 37.33
    [TestCase(45, 60, 28, 28, 37)]          // 1680/45 = 37.33
    [TestCase(20, 20, 28, 28, 28)]          // upscale of a square
    [TestCase(500, 375, 336, 448, 336)]     // 168000/375 = 448
    [TestCase(799, 533, 336, 503, 336)]     // 268464/533 = 503.68 → 503
    public void ShortestEdgeSizeMatchesHandArithmetic(int w, int h, int edge, int expectedW, int expectedH)
    {
        Assert.That(ClipImageProcessor.ShortestEdgeSize(w, h, edge), Is.EqualTo((expectedW, expectedH)));
    }

    [Test]
    public void OutputShapeAndDtype()
    {
        var processor = new ClipImageProcessor(Tiny());
        using var scope = NewDisposeScope();
        var one = processor.Preprocess(RgbImage.Filled(50, 30, 1, 2, 3));
        var two = processor.Preprocess([RgbImage.Filled(50, 30, 1, 2, 3), RgbImage.Filled(10, 90, 4, 5, 6)]);
        Assert.That(one.shape, Is.EqualTo(new long[] { 1, 3, 28, 28 }));
        Assert.That(two.shape, Is.EqualTo(new long[] { 2, 3, 28, 28 }));
        Assert.That(one.dtype, Is.EqualTo(ScalarType.Float32));
    }

    [Test]
    public void DefaultOptionsAreLlava15Clip336()
    {
        var o = new ClipImageProcessorOptions();
        Assert.That((o.ShortestEdge, o.CropWidth, o.CropHeight), Is.EqualTo((336, 336, 336)));
        Assert.That(o.Mean, Is.EqualTo(new[] { 0.48145466, 0.4578275, 0.40821073 }));
        Assert.That(o.Std, Is.EqualTo(new[] { 0.26862954, 0.26130258, 0.27577711 }));
        Assert.That(o.RescaleFactor, Is.EqualTo(1.0 / 255));
    }

    [Test]
    public void MeanColouredImageNormalisesToAboutZero()
    {
        // The nearest bytes to 255·mean = (122.77, 116.75, 104.09) are (123, 117, 104): at most half a level off,
        // i.e. |z| ≤ 0.5/255/std ≈ 0.0076.
        var processor = new ClipImageProcessor(Tiny());
        using var scope = NewDisposeScope();
        var pixels = processor.Preprocess(RgbImage.Filled(40, 31, 123, 117, 104));
        Assert.That(pixels.abs().max().item<float>(), Is.LessThan(0.0076f));
    }

    [Test]
    public void NormalisationOfExtremesIsHandFormula()
    {
        var processor = new ClipImageProcessor(Tiny());
        var values = processor.PreprocessToArray(RgbImage.Filled(28, 28, 255, 0, 255));
        int plane = 28 * 28;
        Assert.That(values[0], Is.EqualTo((1f - 0.48145466f) / 0.26862954f));
        Assert.That(values[plane], Is.EqualTo((0f - 0.4578275f) / 0.26130258f));
        Assert.That(values[2 * plane + 5], Is.EqualTo((1f - 0.40821073f) / 0.27577711f));
    }

    /// <summary>Oracle: the HF CLIPImageProcessor steps done with PIL + numpy (TestData/images/make_images.py); bit-exact.</summary>
    [Test]
    public void CenterCropModeMatchesPilNumpyReference()
    {
        var image = ImageDecoder.Decode(VisionTestData.File("src_80x60.png"));
        using var scope = NewDisposeScope();
        var actual = new ClipImageProcessor(Tiny()).Preprocess(image);
        var expected = tensor(VisionTestData.Floats("hf_80x60.f32"), [1, 3, 28, 28]);
        TensorAssert.Close(actual, expected, atol: 0, rtol: 0, what: "HF-mode pixels 80x60 → 37x28 → crop 28");
    }

    [Test]
    public void PadModeMatchesPilNumpyReference()
    {
        var image = ImageDecoder.Decode(VisionTestData.File("src_80x60.png"));
        using var scope = NewDisposeScope();
        var actual = new ClipImageProcessor(Tiny(ClipAspectMode.Pad)).Preprocess(image);
        var expected = tensor(VisionTestData.Floats("pad_80x60.f32"), [1, 3, 28, 28]);
        TensorAssert.Close(actual, expected, atol: 0, rtol: 0, what: "research pad-mode pixels 80x60 → 80x80 → 28");
    }

    [Test]
    public void PadColourIsIntOfMeanTimes255()
    {
        Assert.That(new ClipImageProcessorOptions().PadColour, Is.EqualTo(((byte)122, (byte)116, (byte)104)));
    }

    [Test]
    public void ExpandToSquareCentresWideAndTallImages()
    {
        var bg = ((byte)122, (byte)116, (byte)104);
        // 5×2 wide: side 5, pasted at y = (5 − 2) / 2 = 1 → rows 1 and 2 are the image.
        var wide = ImageOps.ExpandToSquare(RgbImage.Filled(5, 2, 255, 255, 255), bg);
        Assert.That((wide.Width, wide.Height), Is.EqualTo((5, 5)));
        for (int y = 0; y < 5; y++)
            Assert.That(wide[3, y, 0], Is.EqualTo(y is 1 or 2 ? 255 : 122), $"row {y}");
        // 2×5 tall: pasted at x = 1.
        var tall = ImageOps.ExpandToSquare(RgbImage.Filled(2, 5, 0, 0, 0), bg);
        for (int x = 0; x < 5; x++)
            Assert.That(tall[x, 4, 1], Is.EqualTo(x is 1 or 2 ? 0 : 116), $"column {x}");
    }

    [Test]
    public void CenterCropTakesFloorOffsetAndPadsSmallImagesWithZeros()
    {
        var image = VisionTestData.Image(7, 4, (x, y, _) => (byte)(10 * y + x));
        // (7 − 4) // 2 = 1 column, (4 − 2) // 2 = 1 row.
        var crop = ImageOps.CenterCrop(image, 4, 2);
        Assert.That(crop[0, 0, 0], Is.EqualTo(11));
        Assert.That(crop[3, 1, 0], Is.EqualTo(24));
        // 2×2 into 5×3: canvas 5×3, image at (ceil(3/2), ceil(1/2)) = (2, 1), window at (0, 0).
        var small = ImageOps.CenterCrop(RgbImage.Filled(2, 2, 9, 9, 9), 5, 3);
        Assert.That((small.Width, small.Height), Is.EqualTo((5, 3)));
        var nonZero = Enumerable.Range(0, 15).Where(i => small[i % 5, i / 5, 0] != 0).Select(i => (i % 5, i / 5)).ToArray();
        Assert.That(nonZero, Is.EqualTo(new[] { (2, 1), (3, 1), (2, 2), (3, 2) }));
    }

    [Test]
    public void CenterCropModeLosesBordersPadModeKeepsThem()
    {
        // A wide image whose left and right quarters are red: HF crops them away, research padding keeps them.
        var image = VisionTestData.Image(112, 28, (x, _, c) => x < 28 || x >= 84 ? (c == 0 ? (byte)255 : (byte)0) : (byte)128);
        var crop = new ClipImageProcessor(Tiny()).PrepareImage(image);
        var pad = new ClipImageProcessor(Tiny(ClipAspectMode.Pad)).PrepareImage(image);
        Assert.That(crop.Pixels.Chunk(3).Any(p => p[0] == 255 && p[1] == 0), Is.False, "crop keeps only the grey middle");
        Assert.That(pad[1, 14, 0], Is.GreaterThan(200), "pad keeps the red left edge");
        Assert.That(pad[14, 0, 0], Is.EqualTo(122), "pad bars are the mean colour");
    }
}
