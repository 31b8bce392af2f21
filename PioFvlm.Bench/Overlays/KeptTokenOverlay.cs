using PioFvlm.Core.Vision;
using SkiaSharp;

namespace PioFvlm.Bench.Overlays;

/// <summary>One panel of a kept-token picture: a method or pruning stage, its kept tokens and the answer given.</summary>
/// <param name="Title">The method or stage, e.g. "PioFvlm-11.1" or "after layer 2".</param>
/// <param name="Answer">The text under the title (the answer given).</param>
/// <param name="Kept">Kept visual-token indices, into the token rectangles the picture is drawn with.</param>
/// <param name="Correct">Colours the answer green (true) or red (false); null leaves it black.</param>
public sealed record OverlayPanel(string Title, string Answer, IReadOnlyCollection<long> Kept, bool? Correct = null);

/// <summary>
/// Draws which visual tokens a pruning run kept, over the input image: one panel per method or stage, side by side,
/// each the image scaled up (nearest neighbour) with the pixels of kept tokens at full brightness and every other pixel
/// (dropped tokens, and borders no token covers, e.g. what a centre crop cut off) dimmed to <see cref="Dim"/>; the
/// relevant tokens, when given, outlined in <see cref="OutlineColour"/>; the panel's title and answer above it, and an
/// optional heading across the top. Pixels are set exactly (no blending), so a decoded PNG can be checked pixel by pixel.
/// </summary>
public static class KeptTokenOverlay
{
    public const int Margin = 8;
    /// <summary>Height of the optional heading line across the top.</summary>
    public const int HeadingHeight = 24;
    /// <summary>Height of the two caption lines (title, answer) above each panel.</summary>
    public const int CaptionHeight = 40;
    /// <summary>Width in display pixels of the outline drawn inside each relevant token's rectangle.</summary>
    public const int OutlineWidth = 2;
    public static readonly (byte R, byte G, byte B) OutlineColour = (255, 0, 255);

    /// <summary>A dropped pixel's channel value: 30 % of the original (so a kept pixel of value ≥ 1 is always brighter).</summary>
    public static byte Dim(byte value) => (byte)(value * 3 / 10);

    /// <summary>
    /// Display pixels per image pixel: small images are scaled up by a whole factor to about 384 px (128 px → 3x,
    /// 28 px → 13x); up to 768 px they stay as they are; larger ones are scaled down to 768 px on their long side.
    /// </summary>
    public static double Scale(int width, int height)
    {
        int side = Math.Max(width, height);
        return side <= 384 ? Math.Max(1, 384 / side) : side <= 768 ? 1 : 768.0 / side;
    }

    /// <summary>Size of one panel's image area for an image of <paramref name="width"/> × <paramref name="height"/>.</summary>
    public static (int Width, int Height) PanelSize(int width, int height)
    {
        double s = Scale(width, height);
        return ((int)Math.Round(width * s), (int)Math.Round(height * s));
    }

    /// <summary>Top-left corner, in the picture, of panel <paramref name="index"/>'s image area.</summary>
    public static (int X, int Y) PanelOrigin(int index, int panelWidth, bool heading) =>
        (Margin + index * (panelWidth + Margin), (heading ? HeadingHeight : 0) + Margin + CaptionHeight);

    /// <summary>Renders the picture and writes it as PNG (atomically: a temporary file, then a rename).</summary>
    /// <exception cref="IOException">The file cannot be written; the message names it.</exception>
    public static void Write(string path, RgbImage image, IReadOnlyList<ImageRect> tokens, IReadOnlyList<OverlayPanel> panels,
                             string? heading = null, IReadOnlyCollection<long>? relevant = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var bitmap = Draw(image, tokens, panels, heading, relevant);
        using var pixels = bitmap.PeekPixels();
        // zlib level 9 with every row filter: the panels repeat each image pixel, which the filters turn into zeros.
        using var png = pixels.Encode(new SKPngEncoderOptions(SKPngEncoderFilterFlags.AllFilters, 9))
                        ?? throw new InvalidOperationException($"Skia could not encode the {bitmap.Width}x{bitmap.Height} kept-token picture as PNG");
        string temp = path + ".tmp";
        try
        {
            using (var file = File.Create(temp)) png.SaveTo(file);
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (File.Exists(temp)) File.Delete(temp);
            throw new IOException($"cannot write the kept-token picture {path}: {e.Message}", e);
        }
    }

    /// <summary>The picture as an RGB image (what <see cref="Write"/> encodes).</summary>
    public static RgbImage Render(RgbImage image, IReadOnlyList<ImageRect> tokens, IReadOnlyList<OverlayPanel> panels,
                                  string? heading = null, IReadOnlyCollection<long>? relevant = null)
    {
        using var bitmap = Draw(image, tokens, panels, heading, relevant);
        var rgb = new byte[bitmap.Width * bitmap.Height * 3];
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                int i = (y * bitmap.Width + x) * 3;
                (rgb[i], rgb[i + 1], rgb[i + 2]) = (c.Red, c.Green, c.Blue);
            }
        return new RgbImage(bitmap.Width, bitmap.Height, rgb);
    }

    static SKBitmap Draw(RgbImage image, IReadOnlyList<ImageRect> tokens, IReadOnlyList<OverlayPanel> panels,
                         string? heading, IReadOnlyCollection<long>? relevant)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(panels);
        if (panels.Count == 0) throw new ArgumentException("a kept-token picture needs at least one panel", nameof(panels));
        foreach (var p in panels)
            foreach (long k in p.Kept)
                if (k < 0 || k >= tokens.Count)
                    throw new ArgumentException($"panel '{p.Title}' keeps token {k}, outside the {tokens.Count} token rectangles", nameof(panels));
        foreach (long k in relevant ?? [])
            if (k < 0 || k >= tokens.Count)
                throw new ArgumentException($"relevant token {k} is outside the {tokens.Count} token rectangles", nameof(relevant));

        double scale = Scale(image.Width, image.Height);
        var (pw, ph) = PanelSize(image.Width, image.Height);
        bool hasHeading = heading is not null;
        int width = Margin + panels.Count * (pw + Margin);
        int height = PanelOrigin(0, pw, hasHeading).Y + ph + Margin;
        int[] owner = Owners(image, tokens);

        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));   // opaque, so premultiplied = straight
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        canvas.Flush();
        using var typeface = SKFontManager.Default.MatchFamily("DejaVu Sans") ?? SKTypeface.Default;
        using var font = new SKFont(typeface, 14);
        using var paint = new SKPaint { IsAntialias = true, Color = SKColors.Black };
        if (heading is not null) Text(canvas, font, paint, heading, Margin, Margin + 14, width - 2 * Margin, SKColors.Black);

        var relevantSet = (relevant ?? []).ToHashSet();
        for (int p = 0; p < panels.Count; p++)
        {
            var panel = panels[p];
            var kept = panel.Kept.ToHashSet();
            var (ox, oy) = PanelOrigin(p, pw, hasHeading);
            Text(canvas, font, paint, panel.Title, ox, oy - CaptionHeight + 15, pw, SKColors.Black);
            var answerColour = panel.Correct switch { true => new SKColor(0, 128, 0), false => new SKColor(200, 0, 0), null => SKColors.Black };
            Text(canvas, font, paint, panel.Answer, ox, oy - 6, pw, answerColour);
            canvas.Flush();
            for (int v = 0; v < ph; v++)
                for (int u = 0; u < pw; u++)
                {
                    int sx = Math.Min(image.Width - 1, (int)(u / scale)), sy = Math.Min(image.Height - 1, (int)(v / scale));
                    int i = (sy * image.Width + sx) * 3;
                    byte r = image.Pixels[i], g = image.Pixels[i + 1], b = image.Pixels[i + 2];
                    if (owner[sy * image.Width + sx] is int t && (t < 0 || !kept.Contains(t)))
                        (r, g, b) = (Dim(r), Dim(g), Dim(b));
                    bitmap.SetPixel(ox + u, oy + v, new SKColor(r, g, b));
                }
            foreach (long t in relevantSet)
                Outline(bitmap, tokens[(int)t], scale, ox, oy, pw, ph);
        }
        return bitmap;
    }

    /// <summary>Per image pixel, the token whose rectangle holds the pixel's centre, or −1.</summary>
    static int[] Owners(RgbImage image, IReadOnlyList<ImageRect> tokens)
    {
        var owner = new int[image.Width * image.Height];
        Array.Fill(owner, -1);
        for (int t = 0; t < tokens.Count; t++)
        {
            var r = tokens[t];
            if (r.IsEmpty) continue;
            for (int y = Math.Max(0, (int)Math.Floor(r.Y0)); y < Math.Min(image.Height, (int)Math.Ceiling(r.Y1)); y++)
                for (int x = Math.Max(0, (int)Math.Floor(r.X0)); x < Math.Min(image.Width, (int)Math.Ceiling(r.X1)); x++)
                    if (x + 0.5 >= r.X0 && x + 0.5 < r.X1 && y + 0.5 >= r.Y0 && y + 0.5 < r.Y1)
                        owner[y * image.Width + x] = t;
        }
        return owner;
    }

    /// <summary>An <see cref="OutlineWidth"/>-pixel frame just inside the token's rectangle, in display pixels.</summary>
    static void Outline(SKBitmap bitmap, ImageRect r, double scale, int ox, int oy, int pw, int ph)
    {
        if (r.IsEmpty) return;
        int x0 = (int)Math.Round(r.X0 * scale), x1 = Math.Min(pw, (int)Math.Round(r.X1 * scale));
        int y0 = (int)Math.Round(r.Y0 * scale), y1 = Math.Min(ph, (int)Math.Round(r.Y1 * scale));
        var colour = new SKColor(OutlineColour.R, OutlineColour.G, OutlineColour.B);
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
                if (x < x0 + OutlineWidth || x >= x1 - OutlineWidth || y < y0 + OutlineWidth || y >= y1 - OutlineWidth)
                    bitmap.SetPixel(ox + x, oy + y, colour);
    }

    /// <summary>One line of text at baseline (x, y), cut with "..." to fit <paramref name="maxWidth"/>.</summary>
    static void Text(SKCanvas canvas, SKFont font, SKPaint paint, string text, float x, float y, float maxWidth, SKColor colour)
    {
        string shown = text.ReplaceLineEndings(" ");
        if (font.MeasureText(shown) > maxWidth)
        {
            while (shown.Length > 0 && font.MeasureText(shown + "...") > maxWidth) shown = shown[..^1];
            shown += "...";
        }
        paint.Color = colour;
        canvas.DrawText(shown, x, y, SKTextAlign.Left, font, paint);
        canvas.Flush();
    }
}
