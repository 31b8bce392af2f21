using PioFvlm.Core.Vision;

namespace PioFvlm.Tests.Overlays;

/// <summary>
/// Reads a decoded kept-token picture back, cell by cell, for square-grid tokens: a cell is highlighted when its
/// centre display pixel equals the input image's pixel, dimmed when it equals 30 % of it (integer), and anything else
/// fails the test. The layout numbers are the documented ones: 8 px margin, 24 px heading, 40 px captions.
/// </summary>
internal static class OverlayCells
{
    public const int Margin = 8, Heading = 24, Caption = 40;

    /// <summary>Highlighted cell indices (row-major) of panel <paramref name="panel"/>.</summary>
    public static SortedSet<int> Highlighted(RgbImage picture, RgbImage input, int panel, int scale, int patch, bool heading = true)
    {
        int pw = input.Width * scale, ox = Margin + panel * (pw + Margin), oy = (heading ? Heading : 0) + Margin + Caption;
        int columns = input.Width / patch, rows = input.Height / patch;
        var bright = new SortedSet<int>();
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
            {
                int sx = c * patch + patch / 2, sy = r * patch + patch / 2;
                int dx = ox + (int)((sx + 0.5) * scale), dy = oy + (int)((sy + 0.5) * scale);
                var shown = (picture[dx, dy, 0], picture[dx, dy, 1], picture[dx, dy, 2]);
                var original = (input[sx, sy, 0], input[sx, sy, 1], input[sx, sy, 2]);
                var dimmed = ((byte)(original.Item1 * 3 / 10), (byte)(original.Item2 * 3 / 10), (byte)(original.Item3 * 3 / 10));
                Assert.That(original, Is.Not.EqualTo(dimmed), $"test image pixel ({sx}, {sy}) is black: bright and dimmed look alike");
                if (shown == original) bright.Add(r * columns + c);
                else Assert.That(shown, Is.EqualTo(dimmed), $"panel {panel} cell ({r}, {c}): neither the input pixel {original} nor its dimmed value");
            }
        return bright;
    }

    /// <summary>Whether display pixel (x, y) of panel <paramref name="panel"/>'s image area is the outline colour.</summary>
    public static bool IsOutline(RgbImage picture, int panelWidth, int panel, int x, int y, bool heading = true)
    {
        int ox = Margin + panel * (panelWidth + Margin), oy = (heading ? Heading : 0) + Margin + Caption;
        return (picture[ox + x, oy + y, 0], picture[ox + x, oy + y, 1], picture[ox + x, oy + y, 2]) == (255, 0, 255);
    }
}
