using System.Diagnostics;
using System.Globalization;
using PioFvlm.Bench.Commands;
using PioFvlm.Core.Runtime;
using PioFvlm.Models.Qwen25Vl;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Macro;

/// <summary>
/// <c>pio-fvlm measure-window-attention [--image WxH] [--repeats N]</c>: one vision block of Qwen2.5-VL-7B's tower shape
/// (hidden 1280, 16 heads of 80, SwiGLU 3420 with biases, random bf16 weights) on the patches of one image (1008 x 1008:
/// 72 x 72 = 5,184 patches), run with window attention (112-px windows = 8 x 8 patches, our equal-length-window
/// batching, <see cref="Qwen25VlSegmentAttention"/>) and with full attention over all patches, alternating A / B in
/// this process after one warm-up of each. Prints every run and the medians.
/// </summary>
public static class WindowAttentionTiming
{
    const int Hidden = 1280, Heads = 16, Intermediate = 3420, Patch = 14, Merge = 2, WindowMerged = 4;

    public static readonly CommandSyntax Syntax = new("measure-window-attention",
    [
        CliOption.Optional("image", "WxH", "image size in pixels, multiples of 28 (default 1008x1008)"),
        CliOption.Optional("repeats", "N", "timed runs of each variant, alternating (default 7)"),
        CliOption.Optional("threads", "N", "torch threads (default 2)"),
    ]);

    public static int Run(string[] args)
    {
        var a = new ArgReader(args, Syntax);
        string image = a.Value("image") ?? "1008x1008";
        var size = image.Split('x');
        if (size.Length != 2 || !int.TryParse(size[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out int width)
            || !int.TryParse(size[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int height)
            || width <= 0 || height <= 0 || width % (Patch * Merge) != 0 || height % (Patch * Merge) != 0)
            throw new UsageException($"--image: '{image}' is not WxH with both sides positive multiples of {Patch * Merge}");
        int repeats = a.Int("repeats", 7, min: 1);
        int threads = a.Int("threads", 2, min: 1);

        TorchRuntime.EnsureLoaded();
        set_num_threads(threads);
        using var noGrad = no_grad();
        manual_seed(0);
        using var block = new Qwen25VlVisionBlock("block", Hidden, Heads, Intermediate);
        block.to(ScalarType.BFloat16);
        foreach (var p in block.parameters()) p.requires_grad = false;

        var layout = new Qwen25VlWindowLayout([new Qwen25VlGrid(1, height / Patch, width / Patch)], Merge, WindowMerged);
        using var scope = NewDisposeScope();
        var patchOrder = layout.PatchWindowIndex();
        var rope = Qwen25VlVisionRope.For(layout.PatchRows, layout.PatchColumns, block.HeadDim, patchOrder, CPU);
        var x = randn(layout.Patches, Hidden, dtype: ScalarType.BFloat16);
        var windows = layout.CuWindowSeqlens;
        var sizes = windows.Zip(windows.Skip(1), (s, e) => e - s).GroupBy(l => l).OrderBy(g => g.Key).Select(g => $"{g.Count()} x {g.Key}");
        Console.WriteLine($"one Qwen2.5-VL-7B vision block (hidden {Hidden}, {Heads} heads, bf16), {image}: {layout.Patches} patches, " +
                          $"windows {string.Join(" + ", sizes)} patches; {threads} threads, {repeats} alternating runs after one warm-up each");

        double Time(IReadOnlyList<long> cuSeqlens)
        {
            using var step = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            block.forward(x, rope, cuSeqlens).Dispose();
            return clock.Elapsed.TotalMilliseconds;
        }
        Time(windows);
        Time(layout.CuSeqlens);
        var window = new List<double>();
        var full = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            window.Add(Time(windows));
            full.Add(Time(layout.CuSeqlens));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"run {r + 1}: window {window[^1]:F1} ms, full {full[^1]:F1} ms"));
        }
        double mw = Median(window), mf = Median(full);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"median: window {mw:F1} ms, full {mf:F1} ms, window / full = {mw / mf:F2}"));
        return 0;
    }

    static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
