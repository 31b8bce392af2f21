using System.Diagnostics;
using System.Globalization;
using PioFvlm.Bench.Commands;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Runtime;
using PioFvlm.Models.Text.Llama;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Macro;

/// <summary>
/// Hidden verb <c>measure-layer-cost [--points LIST] [--repeats N] [--threads N] [--out FILE.json]</c> (run by
/// scripts/perf_report.sh): the wall time of ONE LLaMA-7B decoder layer in bf16 (random weights, about 0.4 GB) as a
/// function of the sequence length n, through the call the prefill makes (<c>RunLayers(hidden, positions, cache, 0, 1)</c>
/// with a fresh <see cref="KvCache"/>). The curve feeds <see cref="SpeedOfLight"/>: what a pruning schedule could save
/// if the pruner itself cost nothing.
/// </summary>
public static class LayerCostCurve
{
    public static readonly int[] DefaultPoints = [22, 64, 128, 192, 256, 384, 576, 636, 1024, 1536, 2048, 2988];

    /// <summary>LLaMA-7B / Vicuna-7B decoder shape with one layer and a tiny vocabulary (the head is never run).</summary>
    public static DecoderDims Llama7bOneLayer { get; } = Micro.SevenBLayerModel.Shape(layers: 1, vocab: 32);

    public static readonly CommandSyntax Syntax = new("measure-layer-cost",
    [
        CliOption.Optional("points", "LIST", $"comma-separated sequence lengths (default {string.Join(",", DefaultPoints)})"),
        CliOption.Optional("repeats", "N", "timed runs per point after one warm-up, median kept (default 5)"),
        CliOption.Optional("threads", "N", "torch threads (default 2)"),
        CliOption.Optional("out", "FILE.json", "write the curve as JSON"),
    ]);

    /// <summary>"22,64,128": positive token counts, for --points here and --curve-points of measure-llava-7b-prefill.</summary>
    public static int[] ParsePoints(string list, string option) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => int.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0
                ? n : throw new UsageException($"{option}: '{p}' is not a positive token count")).ToArray();

    public static int Run(string[] args)
    {
        var a = new ArgReader(args, Syntax);
        var points = a.Value("points") is { } list ? ParsePoints(list, "--points") : DefaultPoints;
        int repeats = a.Int("repeats", 5, min: 1);
        int threads = a.Int("threads", 2, min: 1);

        TorchRuntime.EnsureLoaded();
        set_num_threads(threads);
        using var noGrad = no_grad();
        manual_seed(0);
        var dims = Llama7bOneLayer;
        using var model = new LlamaForCausalLM("llama", dims, CPU, ScalarType.BFloat16);
        foreach (var p in model.parameters()) p.requires_grad = false;
        Console.WriteLine($"one LLaMA-7B layer in bf16, {threads} threads, median of {repeats} after one warm-up");

        var curve = new SortedDictionary<int, double>();
        foreach (int n in points)
        {
            double ms = Measure(model, dims, n, repeats);
            curve[n] = ms;
            Console.WriteLine($"n = {n,5}  {ms,9:F1} ms  {ms / n,7:F3} ms/token");
        }

        if (a.Value("out") is { } path)
        {
            File.WriteAllText(path, CostCurve.ToJson(curve));
            Console.WriteLine($"wrote {path}");
        }
        return 0;
    }

    /// <summary>Median ms of <paramref name="repeats"/> one-layer prefills of <paramref name="n"/> tokens, after one warm-up.</summary>
    static double Measure(LlamaForCausalLM model, DecoderDims dims, int n, int repeats)
    {
        using var scope = NewDisposeScope();
        var hidden = randn(1, n, dims.HiddenSize, dtype: ScalarType.BFloat16);
        var positions = arange(n, dtype: ScalarType.Int64).unsqueeze(0);
        var times = new List<double>();
        for (int rep = -1; rep < repeats; rep++)
        {
            using var inner = NewDisposeScope();
            using var cache = KvCache.For(dims, 1, n, ScalarType.BFloat16, CPU);
            var clock = Stopwatch.StartNew();
            var output = model.RunLayers(hidden, positions, cache, 0, 1);   // CPU kernels are synchronous
            double ms = clock.Elapsed.TotalMilliseconds;
            if (!output.isfinite().all().item<bool>())
                throw new InvalidOperationException($"measure-layer-cost: non-finite output at n = {n}");
            if (rep >= 0) times.Add(ms);
        }
        var sorted = times.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
