using PioFvlm.Bench.Overlays;
using PioFvlm.Core.Vision;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Overlays;

/// <summary>The kept-token renderer on hand-built cases: known kept set → known pixels bright or dimmed.</summary>
public class KeptTokenOverlayTests
{
    /// <summary>4 × 4 pixels, channel c of (x, y) = 100 + 30x + 7y + 20c (never black), split into four 2 × 2 tokens.</summary>
    static RgbImage Image() => new(4, 4, Enumerable.Range(0, 48).Select(i => (byte)(100 + 30 * (i / 3 % 4) + 7 * (i / 12) + 20 * (i % 3))).ToArray());

    static readonly ImageRect[] Quadrants = [new(0, 0, 2, 2), new(2, 0, 4, 2), new(0, 2, 2, 4), new(2, 2, 4, 4)];

    [Test]
    public void KeptTokensAreBrightDroppedDimmedAndRelevantOutlined()
    {
        var image = Image();
        var picture = KeptTokenOverlay.Render(image, Quadrants, [new OverlayPanel("A", "answer: yes", [0, 3], true)], relevant: [1]);
        // 4 px at 96x (384 / 4) = 384 px panel; width 8 + 384 + 8, height 8 + 40 captions + 384 + 8.
        Assert.That((picture.Width, picture.Height), Is.EqualTo((400, 440)));
        Assert.That(OverlayCells.Highlighted(picture, image, 0, 96, 2, heading: false), Is.EqualTo(new[] { 0, 3 }));
        // Pixel (3, 1) of token 1 (dropped): (100 + 90 + 7 + 20c) · 3 / 10 = 59, 65, 71, shown at display (3 · 96 + 48, 96 + 48).
        int ox = 8, oy = 48;
        Assert.That((picture[ox + 336, oy + 144, 0], picture[ox + 336, oy + 144, 1], picture[ox + 336, oy + 144, 2]), Is.EqualTo(((byte)59, (byte)65, (byte)71)));
        // Token 1 spans display x 192..383, y 0..191: a 2 px frame inside it, nothing on token 2's border.
        Assert.That(OverlayCells.IsOutline(picture, 384, 0, 192, 100, heading: false) && OverlayCells.IsOutline(picture, 384, 0, 193, 100, heading: false)
                    && OverlayCells.IsOutline(picture, 384, 0, 383, 100, heading: false) && OverlayCells.IsOutline(picture, 384, 0, 300, 0, heading: false), "frame of token 1");
        Assert.That(OverlayCells.IsOutline(picture, 384, 0, 194, 100, heading: false), Is.False, "the frame is 2 px wide");
        Assert.That(OverlayCells.IsOutline(picture, 384, 0, 0, 300, heading: false), Is.False, "token 2 is not relevant");
        // The captions are drawn: the strip above the panel is not all white.
        bool inked = false;
        for (int y = 8; y < 48; y++)
            for (int x = 8; x < 392; x++)
                inked |= picture[x, y, 0] < 200;
        Assert.That(inked, "title and answer text above the panel");
    }

    [Test]
    public void PanelsSitSideBySideUnderTheHeading()
    {
        var image = Image();
        var picture = KeptTokenOverlay.Render(image, Quadrants,
            [new OverlayPanel("all", "", [0, 1, 2, 3]), new OverlayPanel("one", "", [2]), new OverlayPanel("none", "", [])], heading: "question");
        Assert.That((picture.Width, picture.Height), Is.EqualTo((8 + 3 * (384 + 8), 24 + 8 + 40 + 384 + 8)));
        Assert.That(OverlayCells.Highlighted(picture, image, 0, 96, 2), Is.EqualTo(new[] { 0, 1, 2, 3 }));
        Assert.That(OverlayCells.Highlighted(picture, image, 1, 96, 2), Is.EqualTo(new[] { 2 }));
        Assert.That(OverlayCells.Highlighted(picture, image, 2, 96, 2), Is.Empty);
    }

    [Test]
    public void PixelsNoTokenCoversAreDimmed()
    {
        // Only the left half is a token (as when a centre crop cuts the right half off): the right half is dimmed though
        // every token is kept.
        var image = Image();
        var picture = KeptTokenOverlay.Render(image, [new ImageRect(0, 0, 2, 4)], [new OverlayPanel("A", "", [0])]);
        Assert.That(picture[8 + 48, 48 + 48, 0], Is.EqualTo(image[0, 0, 0]));
        Assert.That(picture[8 + 3 * 96 + 48, 48 + 48, 0], Is.EqualTo((byte)(image[3, 0, 0] * 3 / 10)));
    }

    [Test]
    public void AKeptIndexOutsideTheTokensIsRefusedNamingThePanel()
    {
        var e = Assert.Throws<ArgumentException>(() => KeptTokenOverlay.Render(Image(), Quadrants, [new OverlayPanel("PioFvlm-11.1", "", [4])]));
        Assert.That(e!.Message, Does.Contain("panel 'PioFvlm-11.1' keeps token 4").And.Contain("4 token rectangles"));
        e = Assert.Throws<ArgumentException>(() => KeptTokenOverlay.Render(Image(), Quadrants, [new OverlayPanel("A", "", [])], relevant: [-1]));
        Assert.That(e!.Message, Does.Contain("relevant token -1"));
    }

    [Test]
    public void WriteGivesAPngOfTheRenderedPixelsAndNamesAnUnwritablePath()
    {
        using var dir = new TempDir();
        var image = Image();
        OverlayPanel[] panels = [new("A", "x", [1, 2])];
        string path = dir.File("kept.png");
        KeptTokenOverlay.Write(path, image, Quadrants, panels, relevant: [0]);
        var decoded = ImageDecoder.Decode(path);
        var rendered = KeptTokenOverlay.Render(image, Quadrants, panels, relevant: [0]);
        Assert.That((decoded.Width, decoded.Height), Is.EqualTo((rendered.Width, rendered.Height)));
        Assert.That(decoded.Pixels, Is.EqualTo(rendered.Pixels), "lossless");
        Assert.That(Directory.GetFiles(dir.Path), Is.EqualTo(new[] { path }), "no temporary file left");

        string missing = dir.File("no-such-folder/kept.png");
        var e = Assert.Throws<IOException>(() => KeptTokenOverlay.Write(missing, image, Quadrants, panels));
        Assert.That(e!.Message, Does.Contain(missing));
    }
}
