namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// One image's (or video's) patch grid as the processor reports it in <c>image_grid_thw</c>: T temporal patches,
/// H × W spatial patches of 14 px. Patches come in merge-block order (each <c>Merge</c> × <c>Merge</c> block of
/// patches contiguous), and every block becomes one LLM token.
/// </summary>
public readonly record struct Qwen25VlGrid(int T, int H, int W)
{
    public long Patches => (long)T * H * W;

    /// <summary>Merged rows / columns for a merge size.</summary>
    public int MergedHeight(int merge) => H / merge;
    public int MergedWidth(int merge) => W / merge;

    /// <summary>LLM tokens: T · (H / merge) · (W / merge).</summary>
    public long Tokens(int merge) => (long)T * MergedHeight(merge) * MergedWidth(merge);

    /// <exception cref="ArgumentException">A side that does not split into whole merge blocks.</exception>
    public Qwen25VlGrid Validate(int merge)
    {
        if (T <= 0 || H <= 0 || W <= 0 || H % merge != 0 || W % merge != 0)
            throw new ArgumentException($"image_grid_thw ({T}, {H}, {W}) is not a positive grid whose sides are multiples of the merge size {merge}");
        return this;
    }

    /// <summary>Grids of an <c>image_grid_thw</c> tensor [n, 3] (int64).</summary>
    public static IReadOnlyList<Qwen25VlGrid> FromTensor(TorchSharp.torch.Tensor gridThw)
    {
        if (gridThw.dim() != 2 || gridThw.shape[1] != 3)
            throw new ArgumentException($"image_grid_thw must be [n, 3], got [{string.Join(", ", gridThw.shape)}]");
        var values = gridThw.to_type(TorchSharp.torch.ScalarType.Int64).cpu().data<long>().ToArray();
        return Enumerable.Range(0, (int)gridThw.shape[0])
            .Select(i => new Qwen25VlGrid((int)values[3 * i], (int)values[3 * i + 1], (int)values[3 * i + 2])).ToList();
    }

    /// <summary>An <c>image_grid_thw</c> tensor [n, 3] (int64) of <paramref name="grids"/>.</summary>
    public static TorchSharp.torch.Tensor ToTensor(IReadOnlyList<Qwen25VlGrid> grids) =>
        TorchSharp.torch.tensor(grids.SelectMany(g => new long[] { g.T, g.H, g.W }).ToArray(), [grids.Count, 3]);
}
