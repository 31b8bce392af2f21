using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Demo;

/// <summary>
/// Per-patch labels of a scene for the auxiliary training signal: the class of the shape covering most of the patch
/// (0 = background, else 1 + colour · 3 + kind) when it covers at least a quarter of it, and 1 where a shape's
/// centre lies in the patch (so counting has one mark per object).
/// </summary>
public static class PatchLabels
{
    public const int Classes = 1 + 4 * 3;

    /// <summary>The grid column of every patch, in the row-major patch order of <see cref="Fill"/> and of the visual tokens.</summary>
    public static long[] Columns(int grid) => Enumerable.Range(0, grid * grid).Select(p => (long)(p % grid)).ToArray();

    public static void Fill(ShapesScene scene, int grid, Span<long> classes, Span<float> centres)
    {
        int patch = scene.Size / grid;
        classes.Clear();
        centres.Clear();
        for (int gy = 0; gy < grid; gy++)
            for (int gx = 0; gx < grid; gx++)
            {
                int best = 0, bestClass = 0;
                foreach (var s in scene.Objects)
                {
                    int covered = 0;
                    for (int y = gy * patch; y < (gy + 1) * patch; y++)
                        for (int x = gx * patch; x < (gx + 1) * patch; x++)
                            if (ShapesRenderer.Inside(s, x + 0.5, y + 0.5)) covered++;
                    if (covered > best)
                    {
                        best = covered;
                        bestClass = 1 + (int)s.Colour * 3 + (int)s.Kind;
                    }
                }
                if (best * 4 >= patch * patch) classes[gy * grid + gx] = bestClass;
            }
        foreach (var s in scene.Objects)
        {
            int gx = Math.Clamp((int)(s.X / patch), 0, grid - 1), gy = Math.Clamp((int)(s.Y / patch), 0, grid - 1);
            centres[gy * grid + gx] = 1;
        }
    }
}

/// <summary>
/// The auxiliary heads on the projected visual tokens (training only): patch class logits, centre logits and,
/// when <c>columns</c> is given, logits of the patch's grid column (which keeps "where" readable in every token); when
/// <c>whereLayer</c> is given, a head that reads the named shape's grid column from the decoder's hidden state at the
/// question's last token after that many layers.
/// </summary>
public sealed class PatchHeads : nn.Module<Tensor, (Tensor Class, Tensor Centre, Tensor? Column)>
{
    readonly TorchSharp.Modules.Linear classes;
    readonly TorchSharp.Modules.Linear centre;
    readonly TorchSharp.Modules.Linear? column;
    readonly TorchSharp.Modules.Linear? where;

    public int? WhereLayer { get; }

    public PatchHeads(long hidden, int? columns = null, int? whereLayer = null, int grid = 0) : base("patch_heads")
    {
        classes = nn.Linear(hidden, PatchLabels.Classes);
        centre = nn.Linear(hidden, 1);
        if (columns is { } n) column = nn.Linear(hidden, n);
        if (whereLayer is not null)
        {
            if (grid <= 0) throw new ArgumentOutOfRangeException(nameof(grid), $"the where head needs the patch grid size, got {grid}");
            where = nn.Linear(hidden, grid);
            WhereLayer = whereLayer;
        }
        RegisterComponents();
    }

    /// <summary>Grid-column logits of the named shape from mid-decoder hidden states [N, hidden].</summary>
    public Tensor Where(Tensor hidden) =>
        (where ?? throw new InvalidOperationException("these patch heads were built without a where head")).forward(hidden);

    public override (Tensor Class, Tensor Centre, Tensor? Column) forward(Tensor visual)
    {
        using var _ = NewDisposeScope();
        return (classes.forward(visual).MoveToOuterDisposeScope(), centre.forward(visual).squeeze(-1).MoveToOuterDisposeScope(),
            column?.forward(visual).MoveToOuterDisposeScope());
    }
}
