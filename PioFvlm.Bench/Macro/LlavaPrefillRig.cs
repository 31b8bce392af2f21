using System.Diagnostics;
using PioFvlm.Bench.Micro;
using PioFvlm.Bench.Micro.Infrastructure;
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
/// A LLaVA-1.5 model with random bf16 weights built in memory once, one random image, and a prompt of N text tokens
/// around it (as "USER: &lt;image&gt;\n..." lays it out), with the measurements the performance report needs: one
/// schedule's prefill and decode through the calls <c>pio-fvlm generate</c> makes, the per-layer cost curve on layer 0
/// of this same model, and the pruner's pieces. Used by the <c>measure-llava-7b-prefill</c> verb and, through
/// <see cref="Shared"/>, by the BenchmarkDotNet macro suite, so the 7B model is built once per process.
/// </summary>
public sealed class LlavaPrefillRig : IDisposable
{
    /// <summary>Set to 1 to make <see cref="Shared"/> (the BenchmarkDotNet suites) use the smoke shape.</summary>
    public const string SmokeVariable = "PIOFVLM_BENCH_SMOKE";

    static readonly Lazy<LlavaPrefillRig> SharedRig = new(() =>
    {
        var architecture = Llava15_7b();
        if (Environment.GetEnvironmentVariable(SmokeVariable) == "1") architecture = Smoke(architecture);
        return Build(architecture, textTokens: 60, log: Console.WriteLine);
    });

    public LlavaArchitecture Architecture { get; }
    public LlavaForConditionalGeneration Model { get; }
    public IReadOnlyList<int> Ids { get; }
    public double BuildMs { get; }
    public long Parameters { get; }
    readonly Tensor _pixels;
    readonly Tensor _features;

    LlavaPrefillRig(LlavaArchitecture architecture, LlavaForConditionalGeneration model, IReadOnlyList<int> ids, Tensor pixels,
                    Tensor features, double buildMs)
    {
        Architecture = architecture;
        Model = model;
        Ids = ids;
        _pixels = pixels;
        _features = features;
        BuildMs = buildMs;
        Parameters = model.parameters().Sum(p => p.numel());
    }

    /// <summary>The process-wide rig of the BenchmarkDotNet macro and cost-curve suites: built on first use, never twice.</summary>
    public static LlavaPrefillRig Shared => SharedRig.Value;

    public DecoderDims Dims => Architecture.Text;

    public long VisualTokens => Architecture.TokensPerImage;

    public int TextTokens => Ids.Count - 1;

    /// <summary>LLaVA-1.5-7B's architecture from the config.json kept in the tests' data (found upwards from the current folder).</summary>
    public static LlavaArchitecture Llava15_7b(string? configPath = null)
    {
        string path = configPath ?? FindConfig()
            ?? throw new FileNotFoundException("llava-1.5-7b-hf config.json not given and PioFvlm.Tests/TestData/configs/llava-1.5-7b-hf/config.json not found above " + Environment.CurrentDirectory + " nor above " + AppContext.BaseDirectory);
        return LlavaArchitecture.From((LlavaConfig)HfConfigLoader.Load(path));
    }

    /// <summary>
    /// The smoke shape: the same prompt layout (576 visual tokens from a 336-pixel image, 32 decoder layers, the real
    /// vocabulary) with tiny widths, so every schedule, preset and code path of the real run runs in seconds.
    /// </summary>
    public static LlavaArchitecture Smoke(LlavaArchitecture full) => full with
    {
        Vision = full.Vision with { Hidden = 32, Intermediate = 64, Heads = 2 },   // all 24 layers: VE methods read named ones
        Text = full.Text with { HiddenSize = 64, NumHeads = 4, NumKvHeads = 4, HeadDim = 16, IntermediateSize = 128 },
    };

    /// <summary>Builds the model (random init, frozen, bf16), the prompt and one image's features.</summary>
    public static LlavaPrefillRig Build(LlavaArchitecture architecture, int textTokens, Action<string> log, int seed = 0)
    {
        if (textTokens < 5) throw new ArgumentOutOfRangeException(nameof(textTokens), textTokens, "the prompt needs at least 5 text tokens (4 before the image)");
        TorchRuntime.EnsureLoaded();
        using var noGrad = no_grad();
        var clock = Stopwatch.StartNew();
        manual_seed(seed);
        var model = new LlavaForConditionalGeneration(architecture, CPU, ScalarType.BFloat16);   // modules' default random init
        LlavaPipeline.Freeze(model);
        double buildMs = clock.Elapsed.TotalMilliseconds;

        var rng = new Random(seed);
        var ids = new List<int> { 1 };   // BOS, 4 text ids, the image, the rest of the text
        for (int i = 1; i < textTokens; i++)
        {
            if (i == 5) ids.Add(architecture.ImageTokenId);
            ids.Add(rng.Next(3, 32000));
        }
        int size = architecture.Vision.ImageSize;
        var pixels = randn(1, 3, size, size);
        var features = model.EncodeImages(pixels);
        var rig = new LlavaPrefillRig(architecture, model, ids, pixels, features, buildMs);
        log($"built {rig.Parameters:N0} parameters in bf16 in {buildMs / 1000:F1} s (RSS {NativePeakRss.Text("VmRSS")})");
        return rig;
    }

    /// <summary>
    /// "unpruned"; a PIO-FVLM schedule preset (pio-33 ... pio-ve-11); a pruning config file (*.json, any method); or a
    /// config's name in configs/pruning (fastv-64 → configs/pruning/fastv-64.json, found upwards from the current folder).
    /// </summary>
    public static PruningPlan PlanFor(string name)
    {
        if (name == "unpruned") return PruningPlan.None;
        if (name.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            return PruningConfig.Load(name) with { Name = Path.GetFileNameWithoutExtension(name) };
        if (name.StartsWith("pio-", StringComparison.Ordinal))
            return PioFvlmMethod.Create(new PioFvlmOptions { Schedule = SchedulePresets.Get(name).ToSchedule() });
        string config = FindUpwards(Path.Combine("configs", "pruning", name + ".json"))
            ?? throw new ArgumentException($"schedule '{name}' is neither 'unpruned', a pio-* preset, a *.json file nor configs/pruning/{name}.json");
        return PruningConfig.Load(config) with { Name = name };
    }

    /// <summary>
    /// <paramref name="repeats"/> runs of image encoding (with the plan's pre-LLM selection, if any) and prefill; the
    /// fastest prefill counts. Then <paramref name="decodeTokens"/> greedy decode steps on the last run's cache.
    /// </summary>
    public ScheduleRow Measure(string name, PruningPlan plan, int repeats, int decodeTokens)
    {
        if (repeats < 1) throw new ArgumentOutOfRangeException(nameof(repeats), repeats, "at least one prefill per schedule");
        using var noGrad = no_grad();
        var runs = new List<ScheduleRow>();
        for (int rep = 0; rep < repeats; rep++)
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            MultimodalSequence sequence;
            double reduceMs = 0;
            if (plan.PreLlm is { } reducer)
            {
                using var reduced = Model.EncodeImages(_pixels, reducer, Ids);
                reduceMs = reduced.ReductionMs;
                sequence = Model.BuildSequence(Ids, reduced.Features);
            }
            else
            {
                using var features = Model.EncodeImages(_pixels);
                sequence = Model.BuildSequence(Ids, features);
            }
            double encodeMs = clock.Elapsed.TotalMilliseconds;
            using var seq = sequence;
            using var cache = KvCache.For(Dims, 1, seq.Length + decodeTokens + 1, ScalarType.BFloat16, CPU);
            using var prefill = DecoderRunner.Prefill(Model.LanguageModel, seq, cache, plan.Intra, plan.Positions ?? PositionPolicy.Compact);
            bool finite = prefill.LastLogits.isfinite().all().item<bool>();
            long kvBytes = cache.BytesInUse;   // after the prefill, before decode adds positions
            double decodeMs = rep == repeats - 1 && decodeTokens > 0 ? Decode(prefill, cache, decodeTokens) : 0;
            runs.Add(new ScheduleRow(name, prefill.VisualTokensIn, prefill.VisualTokensOut, prefill.VisualTokensPerLayer.Average(),
                prefill.TokensPerLayer.ToArray(), encodeMs, reduceMs, prefill.PrefillMs, prefill.PruningMs, kvBytes,
                FlopCount.Paper(prefill.VisualTokensPerLayer, Dims), FlopCount.ExactPrefill(prefill.TokensPerLayer, Dims),
                decodeTokens, decodeMs, finite));
        }
        var fastest = runs.MinBy(r => r.PrefillMs)!;
        return fastest with { DecodeMs = runs[^1].DecodeMs, Finite = runs.All(r => r.Finite) };
    }

    /// <summary>Greedy decode steps after a prefill (each: one token through all layers and the LM head); total ms.</summary>
    double Decode(PrefillResult prefill, KvCache cache, int tokens)
    {
        var clock = Stopwatch.StartNew();
        DecodeSteps(prefill, cache, tokens, (int)prefill.LastLogits.argmax().item<long>());
        return clock.Elapsed.TotalMilliseconds;
    }

    int DecodeSteps(PrefillResult prefill, KvCache cache, int tokens, int next)
    {
        for (int i = 0; i < tokens; i++)
        {
            using var logits = DecoderRunner.Step(Model.LanguageModel, next, prefill.DecodeState, cache);
            next = (int)logits.argmax().item<long>();
        }
        return next;
    }

    /// <summary>A finished prefill with room for <paramref name="tokens"/> decode steps (the decode benchmark's setup).</summary>
    public DecodeSession StartDecode(PruningPlan plan, int tokens)
    {
        using var noGrad = no_grad();
        var sequence = plan.PreLlm is { } reducer ? Reduced(reducer) : Model.BuildSequence(Ids, _features);
        var cache = KvCache.For(Dims, 1, sequence.Length + tokens + 1, ScalarType.BFloat16, CPU);
        var prefill = DecoderRunner.Prefill(Model.LanguageModel, sequence, cache, plan.Intra, plan.Positions ?? PositionPolicy.Compact);
        return new DecodeSession(this, sequence, cache, prefill);

        MultimodalSequence Reduced(IPreLlmReducer r)
        {
            using var reduced = Model.EncodeImages(_pixels, r, Ids);
            return Model.BuildSequence(Ids, reduced.Features);
        }
    }

    /// <summary>The state <see cref="StartDecode"/> leaves: decode steps continue from the prefill's greedy token.</summary>
    public sealed class DecodeSession(LlavaPrefillRig rig, MultimodalSequence sequence, KvCache cache, PrefillResult prefill) : IDisposable
    {
        int _next = (int)prefill.LastLogits.argmax().item<long>();

        public void Steps(int tokens)
        {
            using var noGrad = no_grad();
            _next = rig.DecodeSteps(prefill, cache, tokens, _next);
        }

        public void Dispose()
        {
            prefill.Dispose();
            cache.Dispose();
            sequence.Dispose();
        }
    }

    /// <summary>One decoder layer (layer 0) over <paramref name="hidden"/> with a fresh cache, as the prefill runs it.</summary>
    public void RunOneLayer(Tensor hidden, Tensor positions)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var cache = KvCache.For(Dims, 1, hidden.shape[1], ScalarType.BFloat16, CPU);
        Model.LanguageModel.RunLayers(hidden, positions, cache, 0, 1);
    }

    /// <summary>
    /// Median ms of one decoder layer (layer 0 of this model, through the prefill's <c>RunLayers</c> call with a fresh
    /// cache) at each token count, after one warm-up per point.
    /// </summary>
    public SortedDictionary<int, double> CostCurve(IEnumerable<int> points, int repeats, Action<string> log)
    {
        var curve = new SortedDictionary<int, double>();
        foreach (int n in points)
        {
            curve[n] = LayerMs(n, repeats);
            log($"layer cost n = {n,5}  {curve[n],9:F1} ms  {curve[n] / n,7:F3} ms/token");
        }
        return curve;
    }

    /// <summary>Median ms of <paramref name="repeats"/> one-layer prefills of <paramref name="n"/> tokens, after one warm-up.</summary>
    public double LayerMs(int n, int repeats)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var hidden = randn(1, n, Dims.HiddenSize, dtype: ScalarType.BFloat16);
        var positions = arange(n, dtype: ScalarType.Int64).unsqueeze(0);
        return Median(repeats, () =>
        {
            using var cache = KvCache.For(Dims, 1, n, ScalarType.BFloat16, CPU);
            var output = Model.LanguageModel.RunLayers(hidden, positions, cache, 0, 1);
            if (!output.isfinite().all().item<bool>())
                throw new InvalidOperationException($"layer cost: non-finite output at n = {n}");
        }, warmUp: true);
    }

    /// <summary>
    /// The pruner's pieces on the full prompt after layer 1: one layer forward, one PIO probe Full and Cheap, and NMS
    /// selections on the real visual features (keeps of the three w/o-VE first stages) and on 2,928 clustered random
    /// features (LLaVA-NeXT's anyres maximum), each checked against the fp32 full-matrix reference.
    /// </summary>
    public PieceTimes Pieces(int repeats, Action<string> log)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var seq = Model.BuildSequence(Ids, _features);
        var lm = Model.LanguageModel;
        var hidden = lm.RunLayers(seq.Embeddings, seq.PositionIds, null, 0, 1);
        var state = new PrefillState(hidden, seq.PositionIds, seq.VisualSpans, seq.TokenIds, 1);

        double layerMs = Median(repeats, () => lm.RunLayers(hidden, seq.PositionIds, null, 1, 2), warmUp: true);
        log($"one layer forward  median {layerMs:F1} ms of {repeats} (S = {seq.Length})");
        var probe = new Dictionary<ProbeImplementation, double>();
        foreach (var kind in new[] { ProbeImplementation.Full, ProbeImplementation.Cheap })
        {
            var scorer = new GradientSaliency(GradientSaliencyOptions.Llava with { Probe = kind });
            probe[kind] = Median(repeats, () => scorer.Score(state, lm), warmUp: true);
            log($"probe {kind,-5}        median {probe[kind]:F1} ms of {repeats}");
        }

        var nms = new List<NmsTiming>();
        var visual = Core.Pruning.VisualTokens.Features(state);
        manual_seed(7);
        var scores = rand(visual.shape[0]);
        foreach (int keep in new[] { 344, 218, 92 })
            nms.Add(TimeNms(visual, scores, keep, "layer-1 hidden states", repeats, log));
        var clustered = NmsSelectionBenchmark.ClusteredFeatures(2928, (int)visual.shape[1], seed: 11);
        var clusteredScores = rand(2928);
        nms.Add(TimeNms(clustered, clusteredScores, 92, "clustered random", repeats, log));
        return new PieceTimes(seq.Length, layerMs, probe[ProbeImplementation.Full], probe[ProbeImplementation.Cheap], nms);
    }

    static NmsTiming TimeNms(Tensor features, Tensor scores, int keep, string what, int repeats, Action<string> log)
    {
        var selector = new FeatureNms();
        long[] picked = [];
        double ms = Median(repeats, () => picked = selector.Select(features, scores, keep), warmUp: true);
        long[] reference = [];
        double referenceMs = Median(1, () => reference = NmsSelectionBenchmark.FullMatrixNms(features, scores, keep, FeatureNms.DefaultThreshold), warmUp: false);
        bool identical = picked.SequenceEqual(reference);
        log($"NMS V = {features.shape[0],4} d = {features.shape[1]} keep {keep,3}  median {ms:F1} ms (fp32 full matrix {referenceMs:F1} ms, same selection: {(identical ? "yes" : "NO")})");
        return new NmsTiming((int)features.shape[0], (int)features.shape[1], keep, what, ms, referenceMs, identical);
    }

    /// <summary>Median wall ms of <paramref name="repeats"/> calls, each in its own dispose scope (CPU kernels are synchronous).</summary>
    static double Median(int repeats, Action action, bool warmUp)
    {
        var times = new List<double>();
        for (int rep = warmUp ? -1 : 0; rep < repeats; rep++)
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            action();
            double ms = clock.Elapsed.TotalMilliseconds;
            if (rep >= 0) times.Add(ms);
        }
        var sorted = times.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    static string? FindConfig() => FindUpwards(Path.Combine("PioFvlm.Tests", "TestData", "configs", "llava-1.5-7b-hf", "config.json"));

    /// <summary>The file at <paramref name="relative"/> in the current folder or a parent, else beside the program or above it
    /// (the repository holds bin/), or null.</summary>
    static string? FindUpwards(string relative)
    {
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            {
                string path = Path.Combine(dir.FullName, relative);
                if (File.Exists(path)) return path;
            }
        return null;
    }

    public void Dispose()
    {
        _features.Dispose();
        _pixels.Dispose();
        Model.Dispose();
    }
}
