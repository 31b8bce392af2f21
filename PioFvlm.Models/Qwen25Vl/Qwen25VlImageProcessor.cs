using PioFvlm.Core.Vision;
using static TorchSharp.torch;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// Qwen2VLImageProcessor, PIL path (spec A3): smart_resize to multiples of 28 inside [min, max] pixels, Pillow-exact
/// bicubic resize, rescale 1/255 and per-channel normalisation, the image repeated to fill the temporal patch, then
/// patchified in merge-block order to pixel_values [Σ T·H·W, C·T·P·P] with image_grid_thw [n, 3].
/// </summary>
public sealed class Qwen25VlImageProcessor(Qwen25VlProcessorOptions options)
{
    public Qwen25VlProcessorOptions Options { get; } = options;

    /// <summary>The patch grid an image of <paramref name="width"/> × <paramref name="height"/> pixels becomes (after smart_resize).</summary>
    public Qwen25VlGrid GridFor(int width, int height)
    {
        var (h, w) = SmartResize.Resize(height, width, Options.Factor, Options.MinPixels, Options.MaxPixels);
        return new Qwen25VlGrid(1, h / Options.PatchSize, w / Options.PatchSize);
    }

    /// <summary>pixel_values [Σ patches, C·T·P·P] (float32) and the grids, images in order.</summary>
    public (Tensor PixelValues, IReadOnlyList<Qwen25VlGrid> Grids) Preprocess(IReadOnlyList<RgbImage> images)
    {
        if (images.Count == 0) throw new ArgumentException("Qwen25VlImageProcessor: no images");
        using var scope = NewDisposeScope();
        var rows = new List<Tensor>();
        var grids = new List<Qwen25VlGrid>();
        foreach (var image in images)
        {
            var grid = GridFor(image.Width, image.Height);
            int h = grid.H * Options.PatchSize, w = grid.W * Options.PatchSize;
            var resized = h == image.Height && w == image.Width ? image : PillowResize.Bicubic(image, w, h);
            rows.Add(Patchify(Normalize(resized), grid));
            grids.Add(grid);
        }
        return (cat(rows, 0).MoveToOuterDisposeScope(), grids);
    }

    /// <summary>CHW float32: (x · 1/255 − mean) / std, in the order HF's numpy path rounds it.</summary>
    Tensor Normalize(RgbImage image)
    {
        int plane = image.Width * image.Height;
        var result = new float[3 * plane];
        var px = image.Pixels;
        for (int c = 0; c < 3; c++)
        {
            float mean = (float)Options.Mean[c], std = (float)Options.Std[c];
            for (int i = 0; i < plane; i++)
                result[c * plane + i] = ((float)(px[i * 3 + c] * (1.0 / 255.0)) - mean) / std;
        }
        return tensor(result, [3, image.Height, image.Width]);
    }

    /// <summary>[C, H, W] → [T·H·W / (P²), C·T·P·P] rows in merge-block order (spec A3 steps 3-5).</summary>
    Tensor Patchify(Tensor chw, Qwen25VlGrid grid)
    {
        int p = Options.PatchSize, m = Options.MergeSize, t = Options.TemporalPatchSize;
        long c = chw.shape[0];
        var frames = chw.unsqueeze(0).expand(t, c, chw.shape[1], chw.shape[2]);   // one image fills the temporal patch
        var v = frames.reshape(1, t, c, grid.H / m, m, p, grid.W / m, m, p);
        // (gt, tt, C, bh, ih, py, bw, iw, px) → (gt, bh, bw, ih, iw, C, tt, py, px)
        return v.permute(0, 3, 6, 4, 7, 2, 1, 5, 8).reshape(grid.Patches, c * t * p * p);
    }
}
