using PioFvlm.Models.Configs;
using PioFvlm.Models.LlavaNext;
using PioFvlm.Models.Qwen25Vl;

namespace PioFvlm.Tests.Models;

/// <summary>
/// Visual tokens per image as HF's processors count them. Oracles: the worked table of spec llava.md §5.4 (anyres, HF
/// pinpoints) and spec qwen25vl-torchsharp.md A3 / pio-fvlm.md §5.4 (smart_resize, 1008² → 1296), plus sizes derived
/// by hand from the spec's steps (written out beside each case).
/// </summary>
public class VisualTokenArithmeticTests
{
    static readonly IReadOnlyList<ImageResolution> Pinpoints = LlavaNextConfig.DefaultGridPinpoints;

    // W×H, best canvas (H×W), tiles R×C, unpadded h'×w', N: every row of llava.md §5.4.
    [TestCase(672, 672, 672, 672, 2, 2, 48, 48, 2928)]
    [TestCase(1000, 1000, 672, 672, 2, 2, 48, 48, 2928)]
    [TestCase(336, 1008, 1008, 336, 3, 1, 72, 24, 2376)]
    [TestCase(1008, 336, 336, 1008, 1, 3, 24, 72, 2328)]
    [TestCase(640, 480, 672, 672, 2, 2, 36, 48, 2340)]
    [TestCase(480, 640, 672, 672, 2, 2, 48, 36, 2352)]
    [TestCase(1024, 899, 672, 672, 2, 2, 42, 48, 2634)]
    [TestCase(1920, 1080, 672, 672, 2, 2, 28, 48, 1948)]
    [TestCase(500, 375, 672, 672, 2, 2, 36, 48, 2340)]
    [TestCase(800, 200, 336, 1008, 1, 3, 18, 72, 1890)]
    [TestCase(336, 336, 336, 672, 1, 2, 24, 24, 1176)]
    [TestCase(300, 200, 336, 672, 1, 2, 24, 36, 1464)]
    public void Anyres_MatchesTheSpecTable(int w, int h, int canvasH, int canvasW, int rows, int cols, int unpadH, int unpadW, int tokens)
    {
        var layout = AnyresLayout.For(w, h, Pinpoints);
        Assert.That(layout.Canvas, Is.EqualTo(new ImageResolution(canvasH, canvasW)), "best resolution");
        Assert.That((layout.Rows, layout.Columns), Is.EqualTo((rows, cols)), "tiles");
        Assert.That((layout.UnpaddedHeight, layout.UnpaddedWidth), Is.EqualTo((unpadH, unpadW)), "unpadded map");
        Assert.That(layout.Tokens, Is.EqualTo(tokens));
        Assert.That(layout.Tokens, Is.EqualTo(576 + unpadH * (unpadW + 1)), "576 base + one newline per grid row");
    }

    [Test]
    public void Anyres_ProfileUsesTheConfigsPinpoints()
    {
        // 640×427 (COCO, pio-fvlm.md §5.3): 672×672 canvas, map 48×48, new_h = int(427·48/640) = 32 (32.025),
        // pad ⌊16/2⌋ = 8 → 32 rows: 576 + 32·49 = 2144.
        Assert.That(LlavaNextProfile.Vicuna7B.VisualTokensForImage(640, 427), Is.EqualTo(2144));
        Assert.That(LlavaNextProfile.Vicuna7B.NominalVisualTokens, Is.EqualTo(2880));
        // With a single 336×336 pinpoint every image is one 1×1 grid: 576 + 24·25 = 1176 for a square one.
        Assert.That(AnyresLayout.For(500, 500, [new ImageResolution(336, 336)]).Tokens, Is.EqualTo(1176));
    }

    [Test]
    public void Anyres_BadInputsNameTheProblem()
    {
        Assert.That(() => AnyresLayout.For(0, 10, Pinpoints), Throws.ArgumentException.With.Message.Contains("0×10"));
        Assert.That(() => AnyresLayout.For(10, 10, []), Throws.ArgumentException.With.Message.Contains("pinpoints"));
        Assert.That(() => AnyresLayout.For(10, 10, [new ImageResolution(300, 336)]), Throws.ArgumentException.With.Message.Contains("300×336"));
    }

    // (H, W) → (h', w'), tokens = h'/28 · w'/28.
    [TestCase(1008, 1008, 1008, 1008, 1296)]  // spec: 72×72 patches merge to 36×36 = 1296; already a multiple of 28, inside the bounds
    [TestCase(480, 640, 476, 644, 391)]       // round(17.14) = 17 → 476, round(22.86) = 23 → 644: 17·23
    [TestCase(28, 28, 56, 56, 4)]             // 784 < 3136: β = 2, ⌈28·2/28⌉·28 = 56 each way
    [TestCase(30, 40, 56, 84, 6)]             // 28·28 < 3136: β = √(3136/1200) = 1.6166; ⌈1.732⌉ = 2 → 56, ⌈2.309⌉ = 3 → 84
    [TestCase(3000, 4000, 2996, 4004, 15301)] // 107·28 × 143·28 = 11,995,984 ≤ 12,845,056: no rescale
    [TestCase(4000, 6000, 2912, 4368, 16224)] // 4004·6000 > max: β = √(24e6/12845056) = 1.3669; ⌊104.5⌋ = 104, ⌊156.8⌋ = 156
    public void SmartResize_FollowsTheSpecSteps(int h, int w, int expectH, int expectW, int tokens)
    {
        Assert.That(SmartResize.Resize(h, w), Is.EqualTo((expectH, expectW)));
        Assert.That(SmartResize.VisualTokens(w, h), Is.EqualTo(tokens));
        Assert.That(Qwen25VlProfile.Reference7B.VisualTokensForImage(w, h), Is.EqualTo(tokens));
    }

    [Test]
    public void SmartResize_RoundsHalfToEven_AsPython()
    {
        // 42/28 = 1.5 → 2 (even), 70/28 = 2.5 → 2 (even): 56 × 56, then 56·56 = 3136 is not below min_pixels.
        Assert.That(SmartResize.Resize(42, 70), Is.EqualTo((56, 56)));
    }

    [Test]
    public void SmartResize_RefusesWhatThePreprocessorRefuses()
    {
        Assert.That(() => SmartResize.Resize(20, 100), Throws.ArgumentException.With.Message.Contains("shorter than the factor 28"));
        Assert.That(() => SmartResize.Resize(28, 5628), Throws.ArgumentException.With.Message.Contains("aspect ratio over 200"));
        Assert.That(SmartResize.Resize(28, 5600).Width, Is.EqualTo(5600), "ratio exactly 200 is allowed");
    }
}
