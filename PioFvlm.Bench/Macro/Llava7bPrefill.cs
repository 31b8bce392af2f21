using System.Diagnostics;
using System.Globalization;
using PioFvlm.Bench.Commands;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Efficiency;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Core.Pruning.Selectors;
using PioFvlm.Core.Runtime;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Macro;

/// <summary>
/// Hidden verb <c>measure-llava-7b-prefill [--config FILE] [--text-tokens N] [--threads N] [--force]</c> (run by
/// scripts/measure_7b_prefill.sh): builds LLaVA-1.5-7B from its config.json with random weights in bf16, in memory
/// (nothing saved or loaded), and times one image through the vision tower + projector and one prefill of 576 visual
/// plus N text tokens through the same calls <see cref="LlavaPipeline.Generate(LlavaInputs, GenerationOptions?, Core.Pruning.IPrefillPruner?, PositionPolicy)"/>
/// makes (<see cref="LlavaForConditionalGeneration.BuildSequence"/>, then <see cref="DecoderRunner.Prefill"/>).
/// Needs about 14.5 GB of free memory; refuses to start with less unless --force.
/// </summary>
public static class Llava7bPrefill
{
    const double NeededGiB = 14.5;

    public static int Run(string[] args)
    {
        var a = new ArgReader(args, flags: ["force", "probe-costs"], valued: ["config", "text-tokens", "threads", "schedules", "repeats", "json"]);
        string config = a.Value("config") ?? FindConfig()
            ?? throw new UsageException("--config FILE (llava-1.5-7b-hf config.json) not given and PioFvlm.Tests/TestData/configs/llava-1.5-7b-hf/config.json not found");
        int textTokens = int.Parse(a.Value("text-tokens") ?? "60", CultureInfo.InvariantCulture);
        int threads = int.Parse(a.Value("threads") ?? "2", CultureInfo.InvariantCulture);
        if (textTokens < 2) throw new UsageException("--text-tokens must be at least 2");
        var schedules = (a.Value("schedules") ?? "unpruned").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        int repeats = int.Parse(a.Value("repeats") ?? "1", CultureInfo.InvariantCulture);
        var plans = schedules.Select(PlanFor).ToList();   // unknown names fail before the 7B build

        double freeGiB = AvailableGiB();
        Console.WriteLine($"available memory {freeGiB:F1} GiB, need about {NeededGiB} GiB");
        if (freeGiB < NeededGiB && !a.Flag("force"))
        {
            Console.Error.WriteLine($"measure-llava-7b-prefill: only {freeGiB:F1} GiB available; refusing (use --force to try anyway)");
            return 1;
        }

        TorchRuntime.EnsureLoaded();
        set_num_threads(threads);
        using var noGrad = no_grad();
        var parsed = (LlavaConfig)HfConfigLoader.Load(config);
        var architecture = LlavaArchitecture.From(parsed);

        var clock = Stopwatch.StartNew();
        manual_seed(0);
        using var model = new LlavaForConditionalGeneration(architecture, CPU, ScalarType.BFloat16);   // modules' default random init
        LlavaPipeline.Freeze(model);
        double initMs = clock.Elapsed.TotalMilliseconds;
        long parameters = model.parameters().Sum(p => p.numel());
        Console.WriteLine($"built {parameters:N0} parameters in bf16 in {initMs / 1000:F1} s (RSS {Rss("VmRSS"):F2} GiB)");

        // [BOS] + 4 text ids, the image, then the rest of the text: as "USER: <image>\n..." lays it out.
        var rng = new Random(0);
        var ids = new List<int> { 1 };
        for (int i = 1; i < textTokens; i++)
        {
            if (i == 5) ids.Add(architecture.ImageTokenId);
            ids.Add(rng.Next(3, 32000));
        }
        int size = architecture.Vision.ImageSize;
        using var pixels = randn(1, 3, size, size);

        clock.Restart();
        using var features = model.EncodeImages(pixels);
        double visionMs = clock.Elapsed.TotalMilliseconds;
        Console.WriteLine($"vision ms       {visionMs:F0} (CLIP-L/14-336, 23 of 24 layers, + projector)");
        Console.WriteLine($"threads         {get_num_threads()}");

        var dims = architecture.Text;
        var rows = new List<Row>();
        foreach (var plan in plans)
        {
            double best = double.MaxValue, pruning = 0, reduceMs = 0;
            long kv = 0, visualIn = 0, visualOut = 0, positions = 0;
            IReadOnlyList<long> visualPerLayer = [], lengths = [];
            bool finite = true;
            for (int rep = 0; rep < repeats; rep++)
            {
                using var scope = NewDisposeScope();
                MultimodalSequence sequence;
                if (plan.PreLlm is { } reducer)
                {
                    clock.Restart();
                    using var reduced = model.EncodeImages(pixels, reducer);
                    reduceMs = reduced.ReductionMs;
                    sequence = model.BuildSequence(ids, reduced.Features);
                }
                else sequence = model.BuildSequence(ids, features);
                using var seq = sequence;
                using var cache = KvCache.For(dims, 1, seq.Length + 1, ScalarType.BFloat16, CPU);
                using var prefill = DecoderRunner.Prefill(model.LanguageModel, seq, cache, plan.Intra, plan.Positions);
                finite &= prefill.LastLogits.isfinite().all().item<bool>();
                if (prefill.PrefillMs < best) { best = prefill.PrefillMs; pruning = prefill.PruningMs; }
                kv = cache.BytesInUse;
                visualIn = prefill.VisualTokensIn; visualOut = prefill.VisualTokensOut; positions = seq.Length;
                visualPerLayer = prefill.VisualTokensPerLayer; lengths = prefill.TokensPerLayer;
            }
            var row = new Row(plan.Name, visualIn, visualOut, visualPerLayer.Average(), positions, best, pruning, reduceMs, kv,
                FlopCount.Paper(visualPerLayer, dims), FlopCount.ExactPrefill(lengths, dims), finite);
            rows.Add(row);
            Console.WriteLine($"done {row.Name}: prefill {row.PrefillMs:F0} ms");
        }

        var baseline = rows.FirstOrDefault(r => r.Name == "unpruned") ?? rows[0];
        Console.WriteLine();
        Console.WriteLine($"{"schedule",-26} {"visual in",9} {"avg vis",8} {"prefill ms",11} {"pruning ms",11} {"speedup",8} {"paper FLOPs",12} {"exact FLOPs",12} {"KV MiB",8}");
        foreach (var r in rows)
            Console.WriteLine($"{r.Name,-26} {r.VisualIn,9} {r.AverageVisual,8:F1} {r.PrefillMs,11:F0} {r.PruningMs,11:F0} " +
                              $"{baseline.PrefillMs / r.PrefillMs,7:F2}x {r.PaperFlops / 1e12,10:F3} T {r.ExactFlops / 1e12,10:F3} T {r.KvBytes / 1048576.0,8:F1}");
        Console.WriteLine($"(vision tower + projector {visionMs:F0} ms per image, not in prefill; encoder-stage selection times are in 'reduce')");
        foreach (var r in rows.Where(r => r.ReduceMs > 0))
            Console.WriteLine($"reduce ms {r.Name}: {r.ReduceMs:F1}");

        var probes = a.Flag("probe-costs") ? ProbeCosts(model, ids, features) : new Dictionary<string, double>();
        if (a.Value("json") is { } jsonPath)
        {
            var run = new PrefillMeasurement(Environment.ProcessorCount, get_num_threads(), textTokens, visionMs, rows, probes);
            File.WriteAllText(jsonPath, System.Text.Json.JsonSerializer.Serialize(run, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"wrote {jsonPath}");
        }
        Console.WriteLine($"peak RSS        {Rss("VmHWM"):F2} GiB (VmHWM)");
        return rows.All(r => r.Finite) ? 0 : 1;
    }

    /// <summary>One schedule's measured prefill (the --json rows; read back by <see cref="PerformanceReport"/>).</summary>
    public sealed record Row(string Name, long VisualIn, long VisualOut, double AverageVisual, long Positions, double PrefillMs,
                      double PruningMs, double ReduceMs, long KvBytes, long PaperFlops, long ExactFlops, bool Finite);

    /// <summary>"unpruned", a schedule preset (PIO-FVLM), or a pruning config file (*.json, any method).</summary>
    static PruningPlan PlanFor(string name) =>
        name == "unpruned" ? PruningPlan.None
        : name.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? PruningConfig.Load(name) with { Name = Path.GetFileNameWithoutExtension(name) }
        : PioFvlmMethod.Create(new PioFvlmOptions { Schedule = SchedulePresets.Get(name).ToSchedule() });

    /// <summary>What --json writes: the machine's cores, the threads used, the vision tower's ms, the rows and the probe costs.</summary>
    public sealed record PrefillMeasurement(int Cores, int Threads, int TextTokens, double VisionMs, IReadOnlyList<Row> Rows,
                                            IReadOnlyDictionary<string, double> ProbeMs);

    /// <summary>One PIO probe (full vs cheap) after layer 1 on the whole prompt, and one NMS selection, at the 7B shape.</summary>
    static Dictionary<string, double> ProbeCosts(LlavaForConditionalGeneration model, List<int> ids, Tensor features)
    {
        using var scope = NewDisposeScope();
        using var seq = model.BuildSequence(ids, features);
        var hidden = model.LanguageModel.RunLayers(seq.Embeddings, seq.PositionIds, null, 0, 1);
        var state = new PrefillState(hidden, seq.PositionIds, seq.VisualSpans, seq.TokenIds, 1);
        var medians = new Dictionary<string, double>();
        foreach (var probe in new[] { ProbeImplementation.Full, ProbeImplementation.Cheap })
        {
            var scorer = new GradientSaliency(GradientSaliencyOptions.Llava with { Probe = probe });
            var times = new List<double>();
            for (int i = 0; i < 3; i++)
            {
                using var inner = NewDisposeScope();
                var c = Stopwatch.StartNew();
                scorer.Score(state, model.LanguageModel);
                times.Add(c.Elapsed.TotalMilliseconds);
            }
            medians[$"probe-{probe}".ToLowerInvariant()] = times.Order().ElementAt(1);
            Console.WriteLine($"probe {probe,-5}     median {times.Order().ElementAt(1):F0} ms of 3 (S = {seq.Length})");
        }
        var visual = VisualTokens.Features(state);
        var scores = rand(visual.shape[0]);
        foreach (int keep in new[] { 344, 218, 92 })
        {
            var times = new List<double>();
            for (int i = 0; i < 5; i++)
            {
                var c = Stopwatch.StartNew();
                new FeatureNms().Select(visual, scores, keep);
                times.Add(c.Elapsed.TotalMilliseconds);
            }
            medians[$"nms-keep-{keep}"] = times.Order().ElementAt(2);
            Console.WriteLine($"NMS keep {keep,-4}     median {times.Order().ElementAt(2):F1} ms of 5 (V = {visual.shape[0]}, d = {visual.shape[1]})");
        }
        return medians;
    }

    static string? FindConfig()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir != null; dir = dir.Parent)
        {
            string path = Path.Combine(dir.FullName, "PioFvlm.Tests", "TestData", "configs", "llava-1.5-7b-hf", "config.json");
            if (File.Exists(path)) return path;
        }
        return null;
    }

    static double AvailableGiB() => ReadKib("/proc/meminfo", "MemAvailable:") / 1048576.0;

    static double Rss(string field) => ReadKib("/proc/self/status", field + ":") / 1048576.0;

    static long ReadKib(string file, string prefix)
    {
        if (!File.Exists(file)) return 0;
        var line = File.ReadLines(file).FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        if (line == null) return 0;
        return long.Parse(line[prefix.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }
}
