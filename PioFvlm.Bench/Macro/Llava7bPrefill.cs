using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using PioFvlm.Bench.Commands;
using PioFvlm.Bench.Micro.Infrastructure;
using PioFvlm.Core.Runtime;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Macro;

/// <summary>
/// Hidden verb <c>measure-llava-7b-prefill</c> (alias <c>measure-prefill</c>) <c>[--config FILE] [--image WxH] [--smoke]
/// [--dtype D] [--text-tokens N] [--threads N] [--schedules LIST] [--repeats N] [--decode-tokens N] [--cost-curve]
/// [--decode-rows LIST] [--decode-row-tokens N] [--decode-breakdown] [--breakdown-steps N]
/// [--curve-points LIST] [--curve-repeats N] [--probe-costs] [--label NAME] [--script NAME] [--json FILE] [--force]</c>
/// (run by scripts/perf_report.sh, perf_report_next.sh, perf_report_qwen.sh and measure_7b_prefill.sh): builds
/// LLaVA-1.5-7B (or the model of any implemented family that --config describes: LLaVA-NeXT, Qwen2.5-VL) with random
/// weights in bf16 (--dtype), in memory (nothing saved or loaded), ONCE, with one random image of --image's size, and
/// in that process
/// measures (see <see cref="PrefillRig"/>) the one-layer cost curve on its layer 0, each schedule's image encoding,
/// prefill (fastest of --repeats) and decode tokens/s through the calls <c>pio-fvlm generate</c> makes, and the
/// pruner's pieces. --smoke runs the same code at a tiny width (same visual-token counts and layer counts) in seconds.
/// Needs the config's weights plus 10 % of free memory (LLaVA-1.5-7B in bf16: 14.5 GiB); refuses to start with less
/// unless --force.
/// </summary>
public static class Llava7bPrefill
{
    /// <summary>Memory needed beyond the weights (activations, the cache, the vision stage): 10 % of them, which is
    /// LLaVA-1.5-7B's measured 14.5 GiB in bf16.</summary>
    const double Headroom = 1.1;

    /// <summary>The alias verb: the rig is no longer LLaVA-1.5-only.</summary>
    public const string AliasVerb = "measure-prefill";

    public static readonly CommandSyntax Syntax = new("measure-llava-7b-prefill",
    [
        CliOption.Optional("config", "FILE", "the config.json of the model to build with random weights (default: LLaVA-1.5-7B's in configs/)"),
        CliOption.Optional("image", "WxH", "the prompt image's size, which sets the visual-token count (default: LLaVA-NeXT 672x672, Qwen2.5-VL 1008x1008; LLaVA-1.5 always 576 tokens)"),
        CliOption.Optional("label", "NAME", "the model's name in the report (default: LLaVA-1.5-7B, or the config's family description)"),
        CliOption.Optional("script", "NAME", "the script named as the report's generator (default scripts/perf_report.sh)"),
        CliOption.Optional("dtype", "BFloat16|Float16|Float32", "weight and compute dtype (default BFloat16)"),
        CliOption.Flag("smoke", "the same code at a tiny width, in seconds"),
        CliOption.Optional("text-tokens", "N", "text tokens of the prompt (default 60)"),
        CliOption.Optional("threads", "N", "torch threads (default 2)"),
        CliOption.Optional("schedules", "LIST", "comma-separated schedules: unpruned, pio-* presets, pruning config files (default unpruned)"),
        CliOption.Optional("repeats", "N", "prefill runs per schedule, fastest kept (default 1)"),
        CliOption.Optional("decode-tokens", "N", "tokens to decode after each prefill (default 0)"),
        CliOption.Optional("decode-rows", "LIST", "schedules (of --schedules) that also decode --decode-row-tokens with each decode route (libtorch defaults, decode kernels), alternating"),
        CliOption.Optional("decode-row-tokens", "N", "tokens per route of the decode rows (default 32)"),
        CliOption.Flag("decode-breakdown", "also take a decode step apart op by op at the unpruned prompt's cache length, per matmul route"),
        CliOption.Optional("breakdown-steps", "N", "decode steps per route of the breakdown, median kept (default 5, smoke 2)"),
        CliOption.Flag("cost-curve", "also measure the one-layer cost curve on layer 0"),
        CliOption.Optional("curve-points", "LIST", "comma-separated sequence lengths of the cost curve"),
        CliOption.Optional("curve-repeats", "N", "runs per cost-curve point (default 5, smoke 1)"),
        CliOption.Flag("probe-costs", "also measure the pruner's pieces"),
        CliOption.Optional("json", "FILE", "write the measurement as JSON (input of perf-report)"),
        CliOption.Flag("force", "run even with less available memory than the weights plus 10 %"),
    ]);

    public static int Run(string[] args)
    {
        var a = new ArgReader(args, Syntax);
        bool smoke = a.Flag("smoke");
        var dtype = DTypeNames.ParseOption(a.Value("dtype"), "--dtype", ScalarType.BFloat16);
        int textTokens = a.Int("text-tokens", 60, min: 5);
        int threads = a.Int("threads", 2, min: 1);
        int repeats = a.Int("repeats", 1, min: 1);
        int decodeTokens = a.Int("decode-tokens", 0, min: 0);
        int curveRepeats = a.Int("curve-repeats", smoke ? 1 : 5, min: 1);
        int routeTokens = a.Int("decode-row-tokens", 32, min: 1);
        int breakdownSteps = a.Int("breakdown-steps", smoke ? 2 : 5, min: 1);
        var decodeRows = (a.Value("decode-rows") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
        int[] curvePoints = a.Value("curve-points") is { } list ? LayerCostCurve.ParsePoints(list, "--curve-points") : smoke ? SmokeCurvePoints : LayerCostCurve.DefaultPoints;
        var schedules = (a.Value("schedules") ?? "unpruned").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Models.Configs.VlmConfig config;
        try
        {
            config = PrefillRig.DefaultConfig(a.Value("config"));
            Models.VlmFamilies.For(config);   // an unimplemented family fails before the memory check
        }
        catch (Exception e) when (e is FileNotFoundException or NotSupportedException or Models.Configs.ConfigFormatException)
        {
            throw new UsageException(e.Message + " (pass --config FILE of an implemented family)");
        }
        List<(string Name, Core.Pruning.PruningPlan Plan)> plans;
        try { plans = schedules.Select(n => (ScheduleName(n), PrefillRig.PlanFor(n, Models.ModelProfiles.For(config)))).ToList(); }   // unknown names fail before the build
        catch (Exception e) when (e is ArgumentException or KeyNotFoundException or FileNotFoundException) { throw new UsageException("--schedules: " + e.Message); }
        if (decodeRows.FirstOrDefault(d => !plans.Any(p => p.Name == ScheduleName(d))) is { } missing)
            throw new UsageException($"--decode-rows: '{missing}' is not one of --schedules ({string.Join(", ", plans.Select(p => p.Name))})");
        var routeSchedules = decodeRows.Select(ScheduleName).ToHashSet();
        var image = EstimateCommand.ParseImage(a.Value("image"));
        var build = new Models.RandomModelOptions { DType = dtype, TinyWidths = smoke, ImageSize = image };

        double freeGiB = AvailableGiB();
        double neededGiB = Models.Configs.ModelSizeEstimator.Estimate(config).Bytes(dtype) * Headroom / 1073741824.0;
        Console.WriteLine($"available memory {freeGiB:F1} GiB, need about {(smoke ? 0.2 : neededGiB):F1} GiB");
        if (!smoke && freeGiB < neededGiB && !a.Flag("force"))
        {
            Console.Error.WriteLine($"measure-llava-7b-prefill: only {freeGiB:F1} GiB available; refusing (use --force to try anyway)");
            return 1;
        }

        TorchRuntime.EnsureLoaded();
        set_num_threads(threads);
        using var noGrad = no_grad();
        var phases = new Dictionary<string, double>();
        var total = Stopwatch.StartNew();
        Action<string> say = Console.WriteLine;   // the schedules loop prints through its progress display
        T Phase<T>(string name, Func<T> work)
        {
            say($"[{total.Elapsed.TotalSeconds,6:F0} s] {name} ...");
            var clock = Stopwatch.StartNew();
            var result = work();
            phases[name] = clock.Elapsed.TotalSeconds;
            say($"[{total.Elapsed.TotalSeconds,6:F0} s] {name}: {phases[name]:F1} s");
            return result;
        }

        using var rig = Phase("build model", () => PrefillRig.Build(config, build, textTokens, Console.WriteLine));
        Console.WriteLine($"threads         {get_num_threads()}");
        var curve = a.Flag("cost-curve")
            ? Phase("layer cost curve", () => rig.CostCurve(curvePoints, curveRepeats, Console.WriteLine))
            : new SortedDictionary<int, double>();

        var rows = new List<ScheduleRow>();
        using (var progress = Commands.ProgressReporter.Start("schedules", plans.Count, quietWhenRedirected: true))
        {
            say = progress.Log;
            for (int i = 0; i < plans.Count; i++)
            {
                var (name, plan) = plans[i];
                progress.Report(i, name);
                var row = Phase($"schedule {i + 1}/{plans.Count} {name}", () => rig.Measure(name, plan, repeats, decodeTokens, routeSchedules.Contains(name) ? routeTokens : 0));
                rows.Add(row);
                progress.Log($"  {name}: encode {row.EncodeMs:F0} ms, prefill {row.PrefillMs:F0} ms (pruning {row.PruningWorkMs:F0} ms), " +
                             $"decode {row.DecodeTokensPerSecond:F2} tokens/s, visual {row.VisualIn} -> {row.VisualOut}");
                foreach (var d in row.DecodeRoutes ?? [])
                    progress.Log($"  {name} decode {d.Route}: {d.TokensPerSecond:F2} tokens/s, {d.EffectiveGBps:F1} GB/s ({d.Tokens} tokens)");
                progress.Report(i + 1, name);
            }
            say = Console.WriteLine;
        }
        PrintTable(rows);

        var decode = a.Flag("decode-breakdown")
            ? Phase("decode breakdown", () => DecodeBreakdown.Measure(rig.Model.Decoder, rig.Model.DType, rig.SequenceLength, breakdownSteps, Console.WriteLine))
            : null;
        var pieces = a.Flag("probe-costs") ? Phase("pruner pieces", () => rig.Pieces(smoke ? 1 : 3, Console.WriteLine)) : null;
        long peak = NativePeakRss.Bytes() ?? 0;
        if (a.Value("json") is { } jsonPath)
        {
            string label = a.Value("label") ?? (a.Value("config") is null ? "LLaVA-1.5-7B" : rig.Model.Profile.Description);
            var run = new PerfMeasurement(smoke ? "smoke" : label, MachineInfo.Current(get_num_threads()), rig.Dims.NumLayers,
                rig.VisualTokens, textTokens, repeats, curve, rows, pieces, phases, peak)
            {
                Model = label,
                Image = image is { } size ? $"{size.Width}x{size.Height}" : null,
                SequenceLength = rig.SequenceLength,
                Script = a.Value("script"),
                Decode = decode,
            };
            File.WriteAllText(jsonPath, JsonSerializer.Serialize(run, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"wrote {jsonPath}");
        }
        Console.WriteLine($"peak RSS        {peak / 1073741824.0:F2} GiB (VmHWM)");
        Console.WriteLine($"total           {total.Elapsed.TotalSeconds:F0} s ({string.Join(", ", phases.Select(p => $"{p.Key} {p.Value:F0} s"))})");
        return rows.All(r => r.Finite) ? 0 : 1;
    }

    /// <summary>Cost-curve points of the smoke run (the same span as the real curve, fewer points).</summary>
    public static readonly int[] SmokeCurvePoints = [22, 128, 636, 2988];

    /// <summary>A config file's schedule is named after the file (configs/pruning/fastv-64.json → fastv-64).</summary>
    static string ScheduleName(string name) =>
        name.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? Path.GetFileNameWithoutExtension(name) : name;

    static void PrintTable(IReadOnlyList<ScheduleRow> rows)
    {
        var baseline = rows.FirstOrDefault(r => r.Name == "unpruned") ?? rows[0];
        Console.WriteLine();
        Console.WriteLine($"{"schedule",-20} {"avg vis",8} {"encode ms",10} {"prefill ms",11} {"pruning ms",11} {"speedup",8} {"paper FLOPs",12} {"KV MiB",8} {"decode tok/s",13}");
        foreach (var r in rows)
            Console.WriteLine($"{r.Name,-20} {r.AverageVisual,8:F1} {r.EncodeMs,10:F0} {r.PrefillMs,11:F0} {r.PruningWorkMs,11:F0} " +
                              $"{baseline.PrefillMs / r.PrefillMs,7:F2}x {r.PaperFlops / 1e12,10:F3} T {r.KvBytes / 1048576.0,8:F1} {r.DecodeTokensPerSecond,13:F2}");
        Console.WriteLine();
    }

    static double AvailableGiB() => ReadKib("/proc/meminfo", "MemAvailable:") / 1048576.0;

    static long ReadKib(string file, string prefix)
    {
        if (!File.Exists(file)) return 0;
        var line = File.ReadLines(file).FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        if (line == null) return 0;
        return long.Parse(line[prefix.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }
}
