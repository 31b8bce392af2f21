namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// Where the vision tower's attention segments lie (spec qwen25vl-torchsharp.md A6 steps 2-5), computed from the grids
/// alone in plain integers: the window permutation of the merged tokens, the window and full-attention segment
/// boundaries in window order, and each patch's (row, column) for the 2-D rotary embedding.
/// </summary>
public sealed class Qwen25VlWindowLayout
{
    /// <summary>For each merged token in window order, its index in the original (per image raster) order.</summary>
    public long[] WindowIndex { get; }

    /// <summary>Patch offsets [0, …, Np] of the attention windows in window order; empty windows do not appear.</summary>
    public long[] CuWindowSeqlens { get; }

    /// <summary>Patch offsets [0, …, Np] of the full-attention segments (one per frame of each image).</summary>
    public long[] CuSeqlens { get; }

    /// <summary>Patch (row, column) in the original merge-block order, [Np] each.</summary>
    public long[] PatchRows { get; }
    public long[] PatchColumns { get; }

    /// <summary>Patches per merged token (merge²).</summary>
    public int MergeUnit { get; }

    public long Patches => PatchRows.LongLength;

    /// <param name="grids">Each image's patch grid, in prompt order.</param>
    /// <param name="merge">spatial_merge_size (2).</param>
    /// <param name="windowMerged">Window side in merged units: window_size / merge / patch (112 / 2 / 14 = 4).</param>
    public Qwen25VlWindowLayout(IReadOnlyList<Qwen25VlGrid> grids, int merge, int windowMerged)
    {
        if (merge <= 0 || windowMerged <= 0)
            throw new ArgumentException($"Qwen25VlWindowLayout: merge {merge} and window {windowMerged} (merged units) must be positive");
        MergeUnit = merge * merge;
        var windowIndex = new List<long>();
        var cuWindow = new List<long> { 0 };
        var cuFull = new List<long> { 0 };
        var rows = new List<long>();
        var cols = new List<long>();
        long mergedOffset = 0;
        foreach (var g in grids)
        {
            g.Validate(merge);
            int hm = g.MergedHeight(merge), wm = g.MergedWidth(merge);
            // HF pads with W − (n mod W), a whole empty row/column of windows when n mod W = 0; empty windows add no
            // segment (their repeated offsets are removed), so counting only the windows that hold tokens is the same.
            int windowsDown = (hm + windowMerged - 1) / windowMerged, windowsAcross = (wm + windowMerged - 1) / windowMerged;
            for (int t = 0; t < g.T; t++)
            {
                for (int wy = 0; wy < windowsDown; wy++)
                    for (int wx = 0; wx < windowsAcross; wx++)
                    {
                        int count = 0;
                        for (int r = wy * windowMerged; r < Math.Min(hm, (wy + 1) * windowMerged); r++)
                            for (int c = wx * windowMerged; c < Math.Min(wm, (wx + 1) * windowMerged); c++)
                            {
                                windowIndex.Add(mergedOffset + ((long)t * hm + r) * wm + c);
                                count++;
                            }
                        if (count > 0) cuWindow.Add(cuWindow[^1] + (long)count * MergeUnit);
                    }
                cuFull.Add(cuFull[^1] + (long)g.H * g.W);
                // Merge-block order: block (bh, bw) row-major, then (ih, iw) inside the block.
                for (int bh = 0; bh < hm; bh++)
                    for (int bw = 0; bw < wm; bw++)
                        for (int ih = 0; ih < merge; ih++)
                            for (int iw = 0; iw < merge; iw++)
                            {
                                rows.Add(bh * merge + ih);
                                cols.Add(bw * merge + iw);
                            }
            }
            mergedOffset += g.Tokens(merge);
        }
        WindowIndex = windowIndex.ToArray();
        CuWindowSeqlens = cuWindow.ToArray();
        CuSeqlens = cuFull.ToArray();
        PatchRows = rows.ToArray();
        PatchColumns = cols.ToArray();
    }

    /// <summary>The inverse permutation: for each merged token in original order, its row in window order.</summary>
    public long[] ReverseIndex()
    {
        var reverse = new long[WindowIndex.Length];
        for (int i = 0; i < WindowIndex.Length; i++) reverse[WindowIndex[i]] = i;
        return reverse;
    }

    /// <summary>The permutation on patches: patch row j of window order is patch <c>result[j]</c> of the original order.</summary>
    public long[] PatchWindowIndex()
    {
        var result = new long[WindowIndex.LongLength * MergeUnit];
        for (long i = 0; i < WindowIndex.LongLength; i++)
            for (int u = 0; u < MergeUnit; u++)
                result[i * MergeUnit + u] = WindowIndex[i] * MergeUnit + u;
        return result;
    }
}
