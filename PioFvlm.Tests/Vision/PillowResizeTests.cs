using PioFvlm.Core.Vision;

namespace PioFvlm.Tests.Vision;

public class PillowResizeTests
{
    const double One = 1 << 22;     // Pillow's 22 fractional bits

    /// <summary>Weight num/den in Pillow's fixed point: scale by 2^22, round half away from zero.</summary>
    static int Fixed(double num, double den) => (int)Math.Round(num / den * One, MidpointRounding.AwayFromZero);

    /// <summary>Fixed-point accumulation with the half added, floor shift, clamp to a byte.</summary>
    static byte Apply(int[] pixels, int[] weights)
    {
        long acc = 1 << 21;
        for (int i = 0; i < pixels.Length; i++) acc += (long)pixels[i] * weights[i];
        return (byte)Math.Clamp(acc >> 22, 0, 255);
    }

    [Test]
    public void Downscale4x1To2x1MatchesHandDerivedPillowWeights()
    {
        // scale 2 → filter widened ×2, support 4. Output 0: centre 1.0, taps x = 0..3 at t = (x − 1 + 0.5)/2 =
        // −0.25, 0.25, 0.75, 1.25. Keys cubic a = −0.5: K(0.25) = 1.5·0.25³ − 2.5·0.25² + 1 = 111/128,
        // K(0.75) = 29/128, K(1.25) = −0.5·1.25³ + 2.5·1.25² − 4·1.25 + 2 = −9/128. Sum 242/128.
        // Output 1: centre 3.0, t = −1.25, −0.75, −0.25, 0.25 → the mirror image.
        int[] w0 = [Fixed(111, 242), Fixed(111, 242), Fixed(29, 242), Fixed(-9, 242)];
        int[] w1 = [Fixed(-9, 242), Fixed(29, 242), Fixed(111, 242), Fixed(111, 242)];
        int[][] channels = [[10, 50, 200, 90], [255, 0, 255, 0], [0, 0, 0, 255]];
        var src = VisionTestData.Image(4, 1, (x, _, c) => (byte)channels[c][x]);

        var dst = PillowResize.Bicubic(src, 2, 1);

        Assert.That((dst.Width, dst.Height), Is.EqualTo((2, 1)));
        for (int c = 0; c < 3; c++)
        {
            Assert.That(dst[0, 0, c], Is.EqualTo(Apply(channels[c], w0)), $"pixel 0 channel {c}");
            Assert.That(dst[1, 0, c], Is.EqualTo(Apply(channels[c], w1)), $"pixel 1 channel {c}");
        }
        // Spot value worked fully by hand: (10·111 + 50·111 + 200·29 − 90·9)/242 = 11650/242 = 48.14 → 48.
        Assert.That(dst[0, 0, 0], Is.EqualTo(48));
    }

    [Test]
    public void Upscale2x1To4x1MatchesHandDerivedPillowWeights()
    {
        // scale 0.5 → no widening, support 2. Centres 0.25, 0.75, 1.25, 1.75; taps clipped to x ∈ {0, 1}:
        // o0: t = 0.25, 1.25 → 111, −9 (sum 102); o1: t = −0.25, 0.75 → 111, 29 (sum 140);
        // o2: t = −0.75, 0.25 → 29, 111; o3: t = −1.25, −0.25 → −9, 111.
        int[][] w =
        [
            [Fixed(111, 102), Fixed(-9, 102)],
            [Fixed(111, 140), Fixed(29, 140)],
            [Fixed(29, 140), Fixed(111, 140)],
            [Fixed(-9, 102), Fixed(111, 102)],
        ];
        int[][] channels = [[100, 200], [255, 0], [3, 250]];
        var src = VisionTestData.Image(2, 1, (x, _, c) => (byte)channels[c][x]);

        var dst = PillowResize.Bicubic(src, 4, 1);

        for (int o = 0; o < 4; o++)
            for (int c = 0; c < 3; c++)
                Assert.That(dst[o, 0, c], Is.EqualTo(Apply(channels[c], w[o])), $"pixel {o} channel {c}");
        // Overshoot is clipped: 255·111/102 > 255 and 0·… − … < 0.
        Assert.That(dst[0, 0, 1], Is.EqualTo(255));
        Assert.That(dst[3, 0, 1], Is.EqualTo(0));
    }

    [Test]
    public void VerticalUpscaleUsesTheSameWeightsOnColumns()
    {
        int[][] channels = [[100, 200], [255, 0], [3, 250]];
        var src = VisionTestData.Image(1, 2, (_, y, c) => (byte)channels[c][y]);
        var dst = PillowResize.Bicubic(src, 1, 4);
        int[] w1 = [Fixed(111, 140), Fixed(29, 140)];
        for (int c = 0; c < 3; c++)
            Assert.That(dst[0, 1, c], Is.EqualTo(Apply(channels[c], w1)), $"row 1 channel {c}");
    }

    [Test]
    public void SameSizeReturnsIdenticalPixelsInANewImage()
    {
        var src = VisionTestData.Image(5, 3, (x, y, c) => (byte)(x * 50 + y * 7 + c));
        var dst = PillowResize.Bicubic(src, 5, 3);
        Assert.That(dst.Pixels, Is.EqualTo(src.Pixels));
        Assert.That(dst.Pixels, Is.Not.SameAs(src.Pixels));
    }

    [TestCase(7, 5, 3, 2)]
    [TestCase(7, 5, 20, 11)]
    [TestCase(30, 4, 9, 13)]
    [TestCase(9, 9, 1, 1)]
    public void ConstantImageStaysConstant(int w, int h, int newW, int newH)
    {
        var src = RgbImage.Filled(w, h, 0, 123, 255);
        var dst = PillowResize.Bicubic(src, newW, newH);
        Assert.That(dst.Pixels, Is.EqualTo(RgbImage.Filled(newW, newH, 0, 123, 255).Pixels));
    }

    /// <summary>Oracle: real Pillow 9.4 <c>Image.resize(size, BICUBIC)</c> outputs (TestData/images/make_images.py).</summary>
    [TestCase(7, 5)]
    [TestCase(50, 40)]
    [TestCase(23, 9)]
    [TestCase(11, 17)]
    [TestCase(46, 17)]
    [TestCase(23, 34)]
    [TestCase(3, 2)]
    [TestCase(1, 1)]
    [TestCase(22, 16)]
    public void MatchesPillowBitForBit(int w, int h)
    {
        var src = ImageDecoder.Decode(VisionTestData.File("src_23x17.png"));
        var expected = VisionTestData.Bytes($"resize_{w}x{h}.rgb");
        var dst = PillowResize.Bicubic(src, w, h);
        int mismatches = dst.Pixels.Zip(expected).Count(p => p.First != p.Second);
        Assert.That(mismatches, Is.Zero, $"{mismatches} of {expected.Length} bytes differ from Pillow for 23x17 → {w}x{h}");
    }

    [Test]
    public void RejectsNonPositiveTarget()
    {
        var src = RgbImage.Filled(2, 2, 1, 2, 3);
        Assert.That(() => PillowResize.Bicubic(src, 0, 2), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("0x2"));
    }
}
