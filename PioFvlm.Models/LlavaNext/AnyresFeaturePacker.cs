using PioFvlm.Core.Generation;
using static TorchSharp.torch;

namespace PioFvlm.Models.LlavaNext;

/// <summary>One image's visual block for the decoder: features [N, H] and where its visual tokens lie in it (spans
/// relative to the block's first row; rows outside every span are image_newline embeddings).</summary>
public sealed record PackedImage(Tensor Features, IReadOnlyList<VisualSpan> Spans)
{
    /// <summary>Visual tokens (newlines excluded).</summary>
    public long VisualTokens => Spans.Sum(s => s.Length);
}

/// <summary>
/// HF pack_image_features for one image (spec llava.md §5.3): the base view's g² features, then the tile grid re-arranged
/// into one (R·g)×(C·g) feature map, unpadded to h'×w', with image_newline appended after every row. The spans record
/// which crop and cell each token came from (<see cref="AnyresOrigin"/>): the base view is one span, each map row one
/// span per tile it crosses, the last of them followed by the row's newline.
/// </summary>
public static class AnyresFeaturePacker
{
    /// <param name="crops">Projected features [1 + R·C, g², H] of one image, base view first.</param>
    /// <param name="layout">The image's anyres layout (same arithmetic as the processor's).</param>
    /// <param name="newline">image_newline [H].</param>
    /// <param name="imageIndex">The image's index in the prompt (for the spans).</param>
    public static PackedImage Pack(Tensor crops, AnyresLayout layout, Tensor newline, int imageIndex)
    {
        int g = layout.GridSide, rows = layout.Rows, columns = layout.Columns;
        if (crops.dim() != 3 || crops.shape[0] != layout.Crops || crops.shape[1] != (long)g * g)
            throw new ArgumentException($"image {imageIndex}: features [{string.Join(", ", crops.shape)}] do not fit its anyres layout " +
                                        $"({layout.Crops} crops of {g}×{g} patches)");
        long hidden = crops.shape[2];
        using var scope = NewDisposeScope();
        var map = crops.narrow(0, 1, rows * columns).reshape(rows, columns, g, g, hidden).permute(0, 2, 1, 3, 4).reshape(rows * g, columns * g, hidden);
        var unpadded = map.narrow(0, layout.UnpadTop, layout.UnpaddedHeight).narrow(1, layout.UnpadLeft, layout.UnpaddedWidth);
        var newlines = newline.to(crops.dtype, crops.device).view(1, 1, hidden).expand(layout.UnpaddedHeight, 1, hidden);
        var grid = cat([unpadded, newlines], 1).reshape(-1, hidden);
        var features = cat([crops[0], grid], 0).MoveToOuterDisposeScope();
        return new PackedImage(features, Spans(layout, imageIndex));
    }

    /// <summary>The spans of a packed image, relative to its first row (see <see cref="Pack"/>).</summary>
    public static List<VisualSpan> Spans(AnyresLayout layout, int imageIndex)
    {
        int g = layout.GridSide;
        var spans = new List<VisualSpan> { new(0, layout.BaseTokens, imageIndex, new AnyresOrigin(0, 0, 0, -1, false)) };
        int left = layout.UnpadLeft, right = left + layout.UnpaddedWidth;
        for (int y = 0; y < layout.UnpaddedHeight; y++)
        {
            int mapRow = layout.UnpadTop + y, tileRow = mapRow / g;
            long rowStart = layout.BaseTokens + (long)y * (layout.UnpaddedWidth + 1);
            for (int tileColumn = left / g; tileColumn * g < right; tileColumn++)
            {
                int from = Math.Max(left, tileColumn * g), to = Math.Min(right, (tileColumn + 1) * g);
                var origin = new AnyresOrigin(1 + tileRow * layout.Columns + tileColumn, mapRow % g, from - tileColumn * g, y, to == right);
                spans.Add(new VisualSpan(rowStart + from - left, to - from, imageIndex, origin));
            }
        }
        return spans;
    }
}
