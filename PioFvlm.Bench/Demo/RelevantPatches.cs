namespace PioFvlm.Bench.Demo;

/// <summary>
/// The ground truth of which visual tokens a question needs: the patches of the shapes it is about
/// (<see cref="ShapesQuestion.About"/>), as row-major indices over the model's patch grid, the order of its visual
/// tokens (and of <see cref="PatchLabels.Fill"/>).
/// </summary>
/// <remarks>
/// Rule: a patch is relevant when one of the shapes covers at least 1/<see cref="CoverDivisor"/> of its pixels
/// (pixel centres inside the shape, <see cref="ShapesRenderer.Inside"/>), and the patch holding a shape's centre always
/// is, so no shape the question is about has zero patches. An eighth (32 of 256 pixels at patch 16) counts a patch
/// where a visible part of the shape lies, but not one it only grazes with a few edge pixels.
/// </remarks>
public static class RelevantPatches
{
    /// <summary>A shape must cover at least 1/8 of a patch's pixels for the patch to count.</summary>
    public const int CoverDivisor = 8;

    /// <summary>Ascending distinct row-major patch indices of <paramref name="shapes"/> on a <paramref name="grid"/> × <paramref name="grid"/> grid.</summary>
    public static long[] Of(int imageSize, IEnumerable<ShapeObject> shapes, int grid)
    {
        if (grid < 1 || imageSize % grid != 0)
            throw new ArgumentException($"the patch grid {grid} must divide the image side {imageSize}", nameof(grid));
        int patch = imageSize / grid;
        var relevant = new SortedSet<long>();
        foreach (var s in shapes)
        {
            int cx = Math.Clamp((int)(s.X / patch), 0, grid - 1), cy = Math.Clamp((int)(s.Y / patch), 0, grid - 1);
            relevant.Add(cy * grid + cx);
            for (int gy = 0; gy < grid; gy++)
                for (int gx = 0; gx < grid; gx++)
                {
                    int covered = 0;
                    for (int y = gy * patch; y < (gy + 1) * patch; y++)
                        for (int x = gx * patch; x < (gx + 1) * patch; x++)
                            if (ShapesRenderer.Inside(s, x + 0.5, y + 0.5)) covered++;
                    if (covered * CoverDivisor >= patch * patch) relevant.Add(gy * grid + gx);
                }
        }
        return [.. relevant];
    }

    /// <summary>The relevant patches of <paramref name="sample"/>'s question.</summary>
    public static long[] Of(ShapesSample sample, int grid) => Of(sample.Scene.Size, sample.Question.About, grid);
}
