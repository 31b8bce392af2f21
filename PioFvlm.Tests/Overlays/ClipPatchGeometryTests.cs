using PioFvlm.Core.Vision;

namespace PioFvlm.Tests.Overlays;

/// <summary>Patch rectangles of the CLIP crop mapped back to the original image (hand-computed values).</summary>
public class ClipPatchGeometryTests
{
    static ClipImageProcessorOptions Tiny(ClipAspectMode mode) => new() { ShortestEdge = 28, CropWidth = 28, CropHeight = 28, AspectMode = mode };

    [Test]
    public void CentreCropMapsThroughTheResizeAndTheCropWindow()
    {
        // 45x60 -> shortest edge 28: 28x37 (int(28 · 60 / 45)); the 28-row window starts at row (37 - 28) / 2 = 4.
        // x scale 28/45, y scale 37/60: patch (0, 0) = x [0, 4 · 45/28), y [4 · 60/37, 8 · 60/37).
        var rects = ClipPatchGeometry.PatchRectangles(Tiny(ClipAspectMode.CenterCrop), 4, 45, 60);
        Assert.That(rects, Has.Count.EqualTo(49));
        AssertRect(rects[0], 0, 240.0 / 37, 45.0 / 7, 480.0 / 37);
        AssertRect(rects[48], 24 * 45.0 / 28, 28 * 60.0 / 37, 45, 32 * 60.0 / 37);
        Assert.That(rects[48].Y1, Is.LessThan(60), "the bottom rows of the image are cropped off");
    }

    [Test]
    public void PadModeMapsThroughTheLetterbox()
    {
        // 60x30 padded to 60x60 (15 rows above), resized to 28x28 (scale 28/60); crop = whole square.
        var rects = ClipPatchGeometry.PatchRectangles(Tiny(ClipAspectMode.Pad), 4, 60, 30);
        Assert.That(rects[0].IsEmpty, "row 0 lies on the padding");
        AssertRect(rects[3 * 7 + 1], 4 * 60.0 / 28, 12 * 60.0 / 28 - 15, 8 * 60.0 / 28, 16 * 60.0 / 28 - 15);
        AssertRect(rects[1 * 7], 0, 0, 4 * 60.0 / 28, 8 * 60.0 / 28 - 15);   // starts on the padding: clipped at the image's top edge
    }

    [Test]
    public void ASquareImageOfTheCropSizeIsThePlainGrid()
    {
        var rects = ClipPatchGeometry.PatchRectangles(Tiny(ClipAspectMode.CenterCrop), 4, 28, 28);
        for (int i = 0; i < 49; i++) AssertRect(rects[i], 4 * (i % 7), 4 * (i / 7), 4 * (i % 7) + 4, 4 * (i / 7) + 4);
        Assert.Throws<ArgumentException>(() => ClipPatchGeometry.PatchRectangles(Tiny(ClipAspectMode.CenterCrop), 5, 28, 28));
    }

    static void AssertRect(ImageRect r, double x0, double y0, double x1, double y1) =>
        Assert.That(new[] { r.X0, r.Y0, r.X1, r.Y1 }, Is.EqualTo(new[] { x0, y0, x1, y1 }).Within(1e-9), r.ToString());
}
