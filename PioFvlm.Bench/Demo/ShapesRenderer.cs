using PioFvlm.Core.Vision;

namespace PioFvlm.Bench.Demo;

/// <summary>
/// Draws a <see cref="ShapesScene"/>: a tinted grey background with a soft gradient and per-pixel noise, then solid
/// shapes whose colours are jittered and noised too, so no single pixel value gives a shape away. Deterministic in
/// the scene (its background seed drives all noise).
/// </summary>
public static class ShapesRenderer
{
    static readonly Dictionary<ShapeColour, (int R, int G, int B)> Base = new()
    {
        [ShapeColour.Red] = (215, 45, 40),
        [ShapeColour.Green] = (40, 175, 60),
        [ShapeColour.Blue] = (45, 80, 225),
        [ShapeColour.Yellow] = (230, 205, 40),
    };

    public static RgbImage Render(ShapesScene scene)
    {
        int n = scene.Size;
        var rng = new Random(scene.BackgroundSeed);
        var pixels = new byte[n * n * 3];
        int grey = rng.Next(95, 165);
        var tint = (R: rng.Next(-12, 13), G: rng.Next(-12, 13), B: rng.Next(-12, 13));
        double gx = (rng.NextDouble() - 0.5) * 40, gy = (rng.NextDouble() - 0.5) * 40;
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
            {
                double shade = grey + gx * (x / (double)n - 0.5) + gy * (y / (double)n - 0.5);
                int i = (y * n + x) * 3;
                pixels[i] = Clamp(shade + tint.R + rng.Next(-25, 26));
                pixels[i + 1] = Clamp(shade + tint.G + rng.Next(-25, 26));
                pixels[i + 2] = Clamp(shade + tint.B + rng.Next(-25, 26));
            }
        foreach (var shape in scene.Objects)
        {
            var (r, g, b) = Base[shape.Colour];
            int jr = rng.Next(-18, 19), jg = rng.Next(-18, 19), jb = rng.Next(-18, 19);
            int x0 = Math.Max(0, (int)Math.Floor(shape.X - shape.Radius - 1)), x1 = Math.Min(n - 1, (int)Math.Ceiling(shape.X + shape.Radius + 1));
            int y0 = Math.Max(0, (int)Math.Floor(shape.Y - shape.Radius - 1)), y1 = Math.Min(n - 1, (int)Math.Ceiling(shape.Y + shape.Radius + 1));
            for (int y = y0; y <= y1; y++)
                for (int x = x0; x <= x1; x++)
                {
                    if (!Inside(shape, x + 0.5, y + 0.5)) continue;
                    int i = (y * n + x) * 3;
                    pixels[i] = Clamp(r + jr + rng.Next(-12, 13));
                    pixels[i + 1] = Clamp(g + jg + rng.Next(-12, 13));
                    pixels[i + 2] = Clamp(b + jb + rng.Next(-12, 13));
                }
        }
        return new RgbImage(n, n, pixels);
    }

    /// <summary>Whether pixel centre (px, py) lies inside the shape. Squares and triangles are sized to about the circle's area.</summary>
    public static bool Inside(ShapeObject s, double px, double py)
    {
        double dx = px - s.X, dy = py - s.Y;
        switch (s.Kind)
        {
            case ShapeKind.Circle:
                return dx * dx + dy * dy <= s.Radius * s.Radius;
            case ShapeKind.Square:
                double h = 0.88 * s.Radius;
                return Math.Abs(dx) <= h && Math.Abs(dy) <= h;
            default:
                // Upward triangle: apex above the centre, flat base below; circumradius 1.2 r.
                double c = 1.2 * s.Radius;
                double top = -c, bottom = 0.5 * c;
                if (dy < top || dy > bottom) return false;
                double halfWidth = (dy - top) / (bottom - top) * (c * Math.Sqrt(3) / 2);
                return Math.Abs(dx) <= halfWidth;
        }
    }

    static byte Clamp(double v) => (byte)Math.Clamp((int)Math.Round(v), 0, 255);
}
