using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.PreLlm;

/// <summary>
/// The downsampling control: average-pool each image's (or crop's) grid of projected visual tokens to the grid nearest
/// the budget, text-agnostic and signal-free. For an H × W grid and budget B the output grid is
/// h = max(1, round(H · s)), w = max(1, round(W · s)) with s = √(B / (H · W)) (half to even), capped at H × W: on
/// LLaVA-1.5's 24 × 24, 64 → 8 × 8 = 64, 128 → 11 × 11 = 121, 192 → 14 × 14 = 196 (the nearest square, so the count can
/// exceed B by a few tokens, as DART's rule does). Cell (r, c) averages the input rows ⌊r·H/h⌋ … ⌈(r+1)·H/h⌉ − 1 and
/// columns likewise (torch's <c>adaptive_avg_pool2d</c> bins: equal cells when h divides H, overlapping cells
/// otherwise). Pooling runs on the projected features (the LLM input rows), in float32, and the pooled grid enters the
/// LLM in raster order; no output row stands for a single input token (kept index −1), unless the grid is unchanged.
/// The same rule applies per crop to LLaVA-NeXT and to Qwen2.5-VL's merged grid.
/// </summary>
public sealed class Downsample : IPreLlmReducer
{
    public int Budget { get; }

    public Downsample(int budget)
    {
        if (budget < 1) throw new ArgumentOutOfRangeException(nameof(budget), $"Downsample budget {budget}: at least 1 token");
        Budget = budget;
    }

    public VisionSignalRequest Signals { get; } = new() { Grid = true };

    /// <summary>The pooled grid (rows, columns) for an <paramref name="height"/> × <paramref name="width"/> input.</summary>
    public static (int Rows, int Columns) PooledGrid(int height, int width, int budget)
    {
        double s = Math.Sqrt((double)budget / ((long)height * width));
        int Side(int n) => Math.Clamp((int)Math.Round(n * s, MidpointRounding.ToEven), 1, n);
        return (Side(height), Side(width));
    }

    public PreLlmReduction Reduce(VisionStageContext context)
    {
        EncoderSignalMath.CheckPatchFeatures(context, "Downsample");
        int height = context.Signals.GridHeight, width = context.Signals.GridWidth;
        var (rows, columns) = PooledGrid(height, width, Budget);
        if (rows == height && columns == width) return EncoderSignalMath.KeepAll(context);
        using var scope = NewDisposeScope();
        var features = context.Features;
        var grid = features.to(ScalarType.Float32).t().reshape(1, features.shape[1], height, width);
        var pooled = nn.functional.adaptive_avg_pool2d(grid, [rows, columns]).reshape(features.shape[1], rows * columns).t();
        var output = pooled.to(features.dtype).contiguous().MoveToOuterDisposeScope();
        return new PreLlmReduction(output, Enumerable.Repeat(-1L, rows * columns).ToArray());
    }
}
