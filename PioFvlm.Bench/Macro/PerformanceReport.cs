using System.Globalization;
using System.Text;
using System.Text.Json;
using PioFvlm.Bench.Commands;

namespace PioFvlm.Bench.Macro;

/// <summary>
/// Hidden verb <c>perf-report --prefill RUN.json [--out FILE.md] [--appendix FILE.md]</c> (run by scripts/perf_report.sh):
/// renders one <see cref="PerfMeasurement"/> (from <c>measure-llava-7b-prefill --json</c>) as the performance report:
/// the machine, the targets with met / missed-by-how-much, every schedule's ratios against the unpruned run of the same
/// process (prefill, end-to-end, paper FLOPs, KV), its speed of light from the measured cost curve
/// (<see cref="SpeedOfLight"/>) with the plain token-layer ratio beside it, where the prefill time goes, and the
/// pruner's pieces. An appendix file (e.g. BenchmarkDotNet's markdown tables) is copied in at the end.
/// </summary>
public static class PerformanceReport
{
    /// <summary>Targets of issue 8 (CPU, this machine): PIO 11.1 % speedup and share of the speed of light (LLaVA-1.5-7B;
    /// the other families' reports pass their own, <see cref="SpeedTargets"/>), NMS time.</summary>
    public const double TargetSpeedup = 3.5, TargetSpeedOfLightShare = 0.70, TargetNmsMs = 10.0;

    /// <summary>Targets of issue 19: bf16 decode at least llama.cpp's BF16 tokens/s on this machine, and PIO's pruning work
    /// at most this share of its prefill.</summary>
    public const double TargetDecodeTokensPerSecond = 2.6, TargetPruningShare = 0.08;

    /// <summary>The schedule the speed targets are about (PIO-FVLM at 11.1 %, w/o VE).</summary>
    public const string TargetSchedule = "pio-11";

    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static readonly CommandSyntax Syntax = new("perf-report",
    [
        CliOption.Require("prefill", "RUN.json", "a measurement from measure-llava-7b-prefill --json"),
        CliOption.Optional("out", "FILE.md", "write the report there (default: stdout)"),
        CliOption.Optional("appendix", "FILE.md", "a file copied in at the end (e.g. BenchmarkDotNet's tables)"),
        CliOption.Optional("target-speedup", "X", "pio-11's prefill speedup goal (default 3.5, LLaVA-1.5's)"),
        CliOption.Optional("target-light-share", "X", "pio-11's share-of-speed-of-light goal, 0-1 (default 0.70)"),
    ]);

    public static int Run(string[] args)
    {
        var a = new ArgReader(args, Syntax);
        string path = a.Value("prefill") ?? throw new UsageException("--prefill RUN.json (from measure-llava-7b-prefill --json) is required");
        var run = Load(path);
        var targets = new SpeedTargets(Goal(a, "target-speedup", TargetSpeedup, 1e6), Goal(a, "target-light-share", TargetSpeedOfLightShare, 1));
        string md = Render(run, a.Value("appendix") is { } appendix ? File.ReadAllText(appendix) : null, targets);
        if (a.Value("out") is { } outPath) { File.WriteAllText(outPath, md); Console.WriteLine($"wrote {outPath}"); }
        else Console.Write(md);
        return 0;
    }

    static double Goal(ArgReader a, string name, double fallback, double max)
    {
        if (a.Value(name) is not { } v) return fallback;
        return double.TryParse(v, NumberStyles.Float, Inv, out double x) && x > 0 && x <= max
            ? x : throw new UsageException($"--{name} must be a number in (0, {max}], got '{v}'");
    }

    public static PerfMeasurement Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<PerfMeasurement>(File.ReadAllText(path))
                ?? throw new InvalidDataException($"{path}: empty measurement");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a measure-llava-7b-prefill --json file ({e.Message})", e);
        }
    }

    /// <summary>The report's markdown. The unpruned row (or the first row) is the baseline of every ratio.</summary>
    public static string Render(PerfMeasurement run, string? appendix = null, SpeedTargets? targets = null)
    {
        targets ??= new SpeedTargets(TargetSpeedup, TargetSpeedOfLightShare);
        var rows = run.Rows;
        if (rows.Count == 0) throw new InvalidDataException("the measurement has no schedule rows");
        var baseline = rows.FirstOrDefault(r => r.Name == "unpruned") ?? rows[0];
        var curve = run.CostCurveMs.Count > 0 ? new CostCurve(run.CostCurveMs) : null;
        var light = rows.ToDictionary(r => r.Name, r => curve == null ? null : SpeedOfLight.Of(r.Name, curve, baseline.SequencePerLayer, r.SequencePerLayer));
        var sb = new StringBuilder();
        void L(string s = "") => sb.Append(s).Append('\n');
        string F(FormattableString s) => s.ToString(Inv);

        string model = run.Shape == "smoke" && run.Model is { } smokeModel ? $"smoke ({smokeModel})" : run.Shape;
        string image = run.Image is { } size ? $" from a {size} image" : "";
        string positions = run.SequenceLength > 0 ? F($" ({run.SequenceLength} positions in all)") : "";
        L($"# Performance: {model} prefill on CPU against the speed of light");
        L();
        L(F($"Generated by `{run.Script ?? "scripts/perf_report.sh"}{(run.Shape == "smoke" ? " --smoke" : "")}` on {run.Machine.DateUtc}. Random bf16 weights built in memory, same calls as `pio-fvlm generate`; {run.Layers} decoder layers, {run.VisualTokens} visual tokens{image} + {run.TextTokens} text tokens{positions}. Every ratio compares two runs of the same process (unpruned = 1); each prefill is the fastest of {run.Repeats} run(s). These are CPU ratios on a shared machine: they are not the paper's GPU ratios and are not compared with them as if they were the same measurement."));
        if (run.Shape == "smoke") { L(); L("**Smoke run: tiny widths, the numbers only check the pipeline.**"); }
        L();
        L("## Machine");
        L();
        var m = run.Machine;
        L(F($"- CPU: {m.Cpu}, {m.Cores} logical cores, {m.TorchThreads} torch threads"));
        L(F($"- Memory: {m.MemoryGiB:F1} GiB; native peak RSS of the run (VmHWM): {run.PeakRssBytes / 1073741824.0:F2} GiB"));
        L($"- OS: {m.Os}; {m.DotNet}; TorchSharp {m.TorchSharp}; {m.Libtorch}");
        L($"- Date: {m.DateUtc}");
        L(F($"- Run time by part: {string.Join(", ", run.PhaseSeconds.Select(p => F($"{p.Key} {p.Value:F1} s")))} (total {run.PhaseSeconds.Values.Sum():F0} s)"));
        L();

        RenderTargets(run, baseline, light, targets, L, F);
        L("## Schedules");
        L();
        L("Prefill = decoder layers + all pruning work (pre-LLM selection included), vision tower excluded, as the paper times it;");
        L("end-to-end = vision tower + projector + selection + decoder (first token's logits). Ratios are unpruned / schedule.");
        L("Paper FLOPs: the paper's formula per layer, 4nd² + 2n²d + 2ndm, summed over the visual tokens each layer keeps");
        L("(`FlopCount.Paper`; one multiply-add counted once). Speed of light = Σ_l cost(n_unpruned) / Σ_l cost(n_l) over the measured one-layer cost curve");
        L("(a free pruner); token-layer ratio = Σ_l n_unpruned / Σ_l n_l; reached = prefill speedup / speed of light.");
        L("Pruning share = all pruning work / that schedule's prefill.");
        L();
        L("| schedule | avg visual | prefill ms | prefill speedup | end-to-end ms | end-to-end speedup | paper FLOPs ratio | KV ratio | token-layer ratio | speed of light | reached | pruning ms | pruning share | decode tok/s |");
        L("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            double speedup = baseline.PrefillMs / r.PrefillMs;
            var s = light[r.Name];
            L(F($"| {r.Name} | {r.AverageVisual:F1} | {r.PrefillMs:F0} | {speedup:F2}x | {r.EndToEndMs:F0} | {baseline.EndToEndMs / r.EndToEndMs:F2}x | {(double)baseline.PaperFlops / r.PaperFlops:F2}x | {(double)baseline.KvBytes / r.KvBytes:F2}x | ") +
              (s == null ? "— | — | — |" : F($"{s.TokenLayerRatio:F2}x | {s.Ratio:F2}x | {100 * speedup / s.Ratio:F0} % |")) +
              F($" {r.PruningWorkMs:F0} | {100 * r.PruningWorkMs / r.PrefillMs:F1} % | {r.DecodeTokensPerSecond:F2} |"));
        }
        if (rows.Any(r => !r.Finite)) L("\n**Warning: some run produced non-finite logits:** " + string.Join(", ", rows.Where(r => !r.Finite).Select(r => r.Name)));
        L();

        RenderDecode(run, L, F);

        L("## Vision stage");
        L();
        L("Vision tower + projector (or merger) on the image, and the pre-LLM selection of the schedules that have one (part of the");
        L("prefill above); visual tokens from the tower, at the first decoder layer and after the last pruning stage, and the");
        L("average over the decoder layers as a share of the tower's count.");
        L();
        L("| schedule | vision tower + projector ms | pre-LLM selection ms | visual from the tower | at layer 0 | after the last stage | avg visual / layer | avg kept % |");
        L("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
            L(F($"| {r.Name} | {r.VisionMs:F0} | {r.ReduceMs:F0} | {run.VisualTokens} | {r.VisualIn} | {r.VisualOut} | {r.AverageVisual:F1} | {100 * r.AverageVisual / run.VisualTokens:F1} % |"));
        L();

        if (curve != null)
        {
            L("## Where the prefill time goes");
            L();
            L("Layers at the curve = Σ_l cost(n_l), what the decoder layers would cost at this schedule's lengths; other = measured");
            L("prefill − layers at the curve − pruning work (sequence surgery, cache gathers, and the curve's own error).");
            L();
            L("| schedule | layers at the curve ms | pruning work ms | other ms | measured prefill ms |");
            L("|---|---:|---:|---:|---:|");
            foreach (var r in rows)
            {
                double layers = light[r.Name]!.PrunedMs;
                L(F($"| {r.Name} | {layers:F0} | {r.PruningWorkMs:F0} | {r.PrefillMs - layers - r.PruningWorkMs:F0} | {r.PrefillMs:F0} |"));
            }
            L();
            L("## One decoder layer: the cost curve");
            L();
            L("Layer 0 of the same model, through the prefill's `RunLayers` call, median after one warm-up:");
            L();
            L("| tokens | ms | ms / token |");
            L("|---:|---:|---:|");
            for (int i = 0; i < curve.Tokens.Count; i++)
                L(F($"| {curve.Tokens[i]} | {curve.Milliseconds[i]:F1} | {curve.Milliseconds[i] / curve.Tokens[i]:F3} |"));
            L();
        }

        if (run.Pieces is { } p)
        {
            L("## Pruner pieces");
            L();
            L(F($"On the full prompt ({p.Sequence} positions) after layer 1; medians."));
            L();
            L("| piece | ms | × one layer forward |");
            L("|---|---:|---:|");
            L(F($"| one decoder layer forward (no grad) | {p.LayerForwardMs:F1} | 1.00 |"));
            L(F($"| PIO probe, Full | {p.ProbeFullMs:F1} | {p.ProbeFullMs / p.LayerForwardMs:F2} |"));
            if (p.ProbeCheapAllValuesMs is { } allValues)
                L(F($"| PIO probe, Cheap with V for every position (before) | {allValues:F1} | {allValues / p.LayerForwardMs:F2} |"));
            L(F($"| PIO probe, Cheap{(p.ProbeCheapAllValuesMs is null ? "" : " with the value fold (after)")} | {p.ProbeCheapMs:F1} | {p.ProbeCheapMs / p.LayerForwardMs:F2} |"));
            L();
            L("| NMS tokens | d | keep | features | FeatureNms ms | fp32 full matrix ms | same selection |");
            L("|---:|---:|---:|---|---:|---:|---|");
            foreach (var n in p.Nms)
                L(F($"| {n.Tokens} | {n.Dim} | {n.Keep} | {n.Features} | {n.Ms:F1} | {n.FullMatrixMs:F1} | {(n.IdenticalToFullMatrix ? "yes" : "NO")} |"));
            L();
        }

        if (!string.IsNullOrWhiteSpace(appendix))
        {
            L("## Appendix: BenchmarkDotNet micro suites");
            L();
            L(appendix.TrimEnd());
            L();
        }
        return sb.ToString();
    }

    static void RenderTargets(PerfMeasurement run, ScheduleRow baseline, IReadOnlyDictionary<string, SpeedOfLight?> light,
                              SpeedTargets targets, Action<string> L, Func<FormattableString, string> F)
    {
        double targetSpeedup = targets.Speedup, targetShare = targets.SpeedOfLightShare;
        L("## Targets");
        L("");
        L("| target | measured | goal | status |");
        L("|---|---:|---:|---|");
        var pio = run.Rows.FirstOrDefault(r => r.Name == TargetSchedule);
        string? gap = null;
        if (pio == null) L($"| {TargetSchedule} prefill speedup | not measured | >= {targetSpeedup:F1}x | — |");
        else
        {
            double speedup = baseline.PrefillMs / pio.PrefillMs;
            L(F($"| {TargetSchedule} (PIO 11.1 %) prefill speedup | {speedup:F2}x | >= {targetSpeedup:F1}x | {AtLeast(speedup, targetSpeedup, "x")} |"));
            if (light[pio.Name] is { } s)
            {
                double share = speedup / s.Ratio;
                L(F($"| {TargetSchedule} share of its speed of light ({s.Ratio:F2}x) | {100 * share:F0} % | >= {100 * targetShare:F0} % | {AtLeast(100 * share, 100 * targetShare, " %")} |"));
                if (speedup < targetSpeedup || share < targetShare)
                    gap = F($"Where {TargetSchedule}'s prefill goes: {pio.PrefillMs:F0} ms = decoder layers at the curve {s.PrunedMs:F0} ms ({100 * s.PrunedMs / pio.PrefillMs:F0} %) + pruning work {pio.PruningWorkMs:F0} ms ({100 * pio.PruningWorkMs / pio.PrefillMs:F0} %) + other {pio.PrefillMs - s.PrunedMs - pio.PruningWorkMs:F0} ms. A free pruner would reach {s.Ratio:F2}x here (token-layer ratio {s.TokenLayerRatio:F2}x; the difference is the cost curve's per-layer floor).");
            }
            else L($"| {TargetSchedule} share of its speed of light | no cost curve | >= {100 * targetShare:F0} % | — |");
        }
        if (pio != null)
        {
            double share = pio.PruningWorkMs / pio.PrefillMs;
            L(F($"| {TargetSchedule} pruning work / its prefill | {100 * share:F1} % ({pio.PruningWorkMs:F0} / {pio.PrefillMs:F0} ms) | <= {100 * TargetPruningShare:F0} % | {AtMost(100 * share, 100 * TargetPruningShare, " %")} |"));
        }
        var decodeRows = run.Rows.SelectMany(r => r.DecodeRoutes ?? []).ToList();
        if ((decodeRows.FirstOrDefault(d => d.Schedule == "unpruned" && d.AtenGemv) ?? decodeRows.FirstOrDefault(d => d.AtenGemv)) is { } decode)
            L(F($"| bf16 decode, {decode.Schedule}, {decode.Tokens} tokens | {decode.TokensPerSecond:F2} tokens/s ({decode.EffectiveGBps:F1} GB/s) | >= {TargetDecodeTokensPerSecond:F1} tokens/s | {AtLeast(decode.TokensPerSecond, TargetDecodeTokensPerSecond, " tokens/s")} |"));
        if (run.Pieces is { } p)
        {
            double ratio = p.ProbeCheapMs / p.LayerForwardMs;
            L(F($"| cheap probe / one layer forward at {p.Sequence} positions | {ratio:F2} ({p.ProbeCheapMs:F0} / {p.LayerForwardMs:F0} ms) | <= 1.00 | {AtMost(ratio, 1.0, "")} |"));
            var nms576 = p.Nms.Where(n => n.Tokens == 576).ToList();
            if (nms576.Count > 0)
            {
                double worst = nms576.Max(n => n.Ms);
                L(F($"| NMS on 576 tokens (slowest of keeps {string.Join("/", nms576.Select(n => n.Keep))}) | {worst:F1} ms | <= {TargetNmsMs:F0} ms | {AtMost(worst, TargetNmsMs, " ms")} |"));
            }
            int same = p.Nms.Count(n => n.IdenticalToFullMatrix);
            L(F($"| NMS selections identical to the fp32 full-matrix reference | {same} of {p.Nms.Count} | all | {(same == p.Nms.Count ? "met" : F($"missed: {p.Nms.Count - same} differ"))} |"));
        }
        else L("| probe and NMS targets | not measured (run with --probe-costs) | | — |");
        L("");
        if (gap != null) { L(gap); L(""); }
    }

    /// <summary>The decode rows (per schedule and matmul route) and the per-op breakdown of one decode step.</summary>
    static void RenderDecode(PerfMeasurement run, Action<string> L, Func<FormattableString, string> F)
    {
        var decodeRows = run.Rows.SelectMany(r => r.DecodeRoutes ?? []).ToList();
        if (decodeRows.Count == 0 && run.Decode == null) return;
        L("## Decode");
        L("");
        L("Greedy decode after the schedule's prefill, as `pio-fvlm generate` runs it (`DecoderRunner.Step` + argmax), with each");
        L("route, alternating in blocks of four tokens on the same cache: libtorch's defaults (before: bf16 one-row products in");
        L("oneDNN, which repacks every weight on every call; SDPA attention) and the decode kernels (after, the default:");
        L("`OneRowGemv` scope: ATen's own gemv, `LongRowGemv` for the down projection's long rows, `OneQueryAttention` over");
        L("the cache). Effective GB/s = weight bytes a step reads (decoder layers, final norm, LM head) / step time.");
        L("");
        if (decodeRows.Count > 0)
        {
            L("| schedule | route | tokens | tokens/s | ms / token | effective GB/s |");
            L("|---|---|---:|---:|---:|---:|");
            foreach (var d in decodeRows)
                L(F($"| {d.Schedule} | {d.Route} | {d.Tokens} | {d.TokensPerSecond:F2} | {d.Ms / d.Tokens:F0} | {d.EffectiveGBps:F1} |"));
            L("");
        }
        if (run.Decode is { } b)
        {
            L(F($"One decode step taken apart op by op ({b.Layers} layers, {b.CachedPositions} cached positions, {b.StepWeightBytes / 1e9:F2} GB of weights a step; median of {b.Steps} steps per route; per-layer ops summed over the layers; overhead = whole step − Σ ops){(b.GemvSwitchAvailable ? "" : " — the oneDNN switch is not available in this libtorch: both routes are oneDNN")}:"));
            L("");
            L("| op | " + string.Join(" | ", b.Routes.Select(r => r.Name + " ms")) + " |");
            L("|---|" + string.Concat(b.Routes.Select(_ => "---:|")));
            foreach (var op in b.Routes[0].OpMs.Keys)
                L($"| {op} | " + string.Join(" | ", b.Routes.Select(r => F($"{r.OpMs[op]:F1}"))) + " |");
            L("| Σ ops | " + string.Join(" | ", b.Routes.Select(r => F($"{r.OpMs.Values.Sum():F1}"))) + " |");
            L("| managed overhead between native calls | " + string.Join(" | ", b.Routes.Select(r => F($"{r.OverheadMs:F1}"))) + " |");
            L("| **whole step** | " + string.Join(" | ", b.Routes.Select(r => F($"**{r.StepMs:F1}**"))) + " |");
            L("| effective GB/s | " + string.Join(" | ", b.Routes.Select(r => F($"{r.EffectiveGBps:F1}"))) + " |");
            L("| tokens/s | " + string.Join(" | ", b.Routes.Select(r => F($"{1000 / r.StepMs:F2}"))) + " |");
            L("");
            if (b.ReadGBps is { } read)
            {
                L(F($"What bounds it: this machine streams {read:F1} GB/s when it only reads (`ReadBandwidth`: the run's torch threads, 1 GiB, 512-bit loads, best of 5),"));
                L(F($"so a step's {b.StepWeightBytes / 1e9:F2} GB of weights takes at least {b.StepWeightBytes / read / 1e6:F0} ms: {read * 1e9 / b.StepWeightBytes:F2} tokens/s is the ceiling of any bf16 decode here."));
                L("");
            }
        }
    }

    /// <summary>"met", or "missed by X (Y %)" for a goal measured must reach.</summary>
    public static string AtLeast(double measured, double goal, string unit) =>
        measured >= goal ? "met" : string.Create(Inv, $"missed by {goal - measured:F2}{unit} ({100 * (goal - measured) / goal:F0} % short)");

    /// <summary>"met", or "missed by X (Y %)" for a goal measured must stay under.</summary>
    public static string AtMost(double measured, double goal, string unit) =>
        measured <= goal ? "met" : string.Create(Inv, $"missed by {measured - goal:F2}{unit} ({100 * (measured - goal) / goal:F0} % over)");
}

/// <summary>The prefill goals a report checks pio-11 against: its speedup and its share of the speed of light (each
/// family's issue sets its own: LLaVA-1.5 3.5x / 70 %, LLaVA-NeXT 5x / 80 %, Qwen2.5-VL 4x / 80 %).</summary>
public sealed record SpeedTargets(double Speedup, double SpeedOfLightShare);
