using System.Diagnostics;
using PioFvlm.Bench.Commands;
using PioFvlm.Bench.Micro;
using PioFvlm.Bench.Micro.Infrastructure;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Models;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Efficiency;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Core.Pruning.Selectors;
using PioFvlm.Core.Runtime;
using PioFvlm.Models;
using PioFvlm.Models.Configs;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Macro;

/// <summary>
/// A model of any implemented family with random weights built in memory once (<see cref="VlmFamilies.BuildRandom"/>;
/// LLaVA-1.5-7B in bf16 by default), one random image and a prompt of N text tokens around it, with the measurements
/// the performance report needs: one schedule's vision stage, prefill and decode through the calls
/// <c>pio-fvlm generate</c> makes (<see cref="IVisionLanguageModel.BuildSequence"/>, <see cref="IVisionLanguageModel.Prefill"/>,
/// <see cref="DecoderRunner.Greedy"/>), the per-layer cost curve on layer 0 of this same model, and the pruner's
/// pieces. Used by the <c>measure-llava-7b-prefill</c> verb and, through <see cref="Shared"/>, by the BenchmarkDotNet
/// macro suite, so the 7B model is built once per process.
/// </summary>
public sealed class PrefillRig : IDisposable
{
    /// <summary>Set to 1 to make <see cref="Shared"/> (the BenchmarkDotNet suites) use the smoke shape.</summary>
    public const string SmokeVariable = "PIOFVLM_BENCH_SMOKE";

    /// <summary>Where the LLaVA-1.5-7B config.json is kept in the tests' data (found upwards from the current folder).</summary>
    public static readonly string DefaultConfigPath = Path.Combine("PioFvlm.Tests", "TestData", "configs", "llava-1.5-7b-hf", "config.json");

    static readonly Lazy<PrefillRig> SharedRig = new(() => Build(DefaultConfig(), new RandomModelOptions
    {
        TinyWidths = Environment.GetEnvironmentVariable(SmokeVariable) == "1",
    }, textTokens: 60, log: Console.WriteLine));

    readonly IVisionLanguageModel _model;
    readonly VlmInputs _inputs;

    public double BuildMs { get; }
    public long Parameters { get; }

    /// <summary>Visual tokens the vision tower makes of the prompt's image.</summary>
    public long VisualTokens { get; }

    public int TextTokens { get; }

    /// <summary>Positions of the unpruned prompt (visual, text, LLaVA-NeXT's newline rows, Qwen's vision markers).</summary>
    public long SequenceLength { get; }

    PrefillRig(RandomModel built, VlmInputs inputs, double buildMs, long visualTokens, long sequenceLength, int textTokens)
    {
        _model = built.Model;
        _inputs = inputs;
        BuildMs = buildMs;
        Parameters = built.Parameters;
        VisualTokens = visualTokens;
        SequenceLength = sequenceLength;
        TextTokens = textTokens;
    }

    /// <summary>The process-wide rig of the BenchmarkDotNet macro and cost-curve suites: built on first use, never twice.</summary>
    public static PrefillRig Shared => SharedRig.Value;

    public IVisionLanguageModel Model => _model;

    public DecoderDims Dims => _model.Profile.Text;

    /// <summary>The config at <paramref name="configPath"/>, else LLaVA-1.5-7B's from the tests' data (<see cref="DefaultConfigPath"/>).</summary>
    /// <exception cref="FileNotFoundException">Neither given nor found.</exception>
    public static VlmConfig DefaultConfig(string? configPath = null)
    {
        string path = configPath ?? RepoFiles.FindUpwards(DefaultConfigPath)
            ?? throw new FileNotFoundException($"config.json not given and {DefaultConfigPath} not found above {Environment.CurrentDirectory} nor above {AppContext.BaseDirectory}");
        return HfConfigLoader.Load(path);
    }

    /// <summary>Builds the model (random init, frozen), the prompt, and runs the vision stage once (visual-token count).</summary>
    public static PrefillRig Build(VlmConfig config, RandomModelOptions options, int textTokens, Action<string> log)
    {
        if (textTokens < 5) throw new ArgumentOutOfRangeException(nameof(textTokens), textTokens, "the prompt needs at least 5 text tokens (4 before the image)");
        TorchRuntime.EnsureLoaded();
        using var noGrad = no_grad();
        var clock = Stopwatch.StartNew();
        var built = VlmFamilies.BuildRandom(config, options);
        double buildMs = clock.Elapsed.TotalMilliseconds;
        try
        {
            var inputs = built.Prompt(textTokens, options.Seed);
            long visual, length;
            using (var vision = built.Model.BuildSequence(inputs).Sequence) (visual, length) = (vision.VisualTokenCount, vision.Length);
            log($"built {built.Parameters:N0} parameters in {options.DType} in {buildMs / 1000:F1} s (RSS {NativePeakRss.Text("VmRSS")}); " +
                $"prompt {length} positions, {visual} visual tokens");
            return new PrefillRig(built, inputs, buildMs, visual, length, textTokens);
        }
        catch
        {
            built.Dispose();
            throw;
        }
    }

    /// <summary>
    /// "unpruned"; a PIO-FVLM schedule preset (pio-33 ... pio-ve-11); a pruning config file (*.json, any method); or a
    /// config's name in configs/pruning (fastv-64 → configs/pruning/fastv-64.json, found upwards from the current folder).
    /// Presets and saliency defaults come from <paramref name="profile"/>, the family of the model the plan will run on.
    /// </summary>
    public static PruningPlan PlanFor(string name, ModelProfile profile)
    {
        if (name == "unpruned") return PruningPlan.None;
        if (name.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            return PruningConfig.Load(name, profile) with { Name = Path.GetFileNameWithoutExtension(name) };
        if (name.StartsWith("pio-", StringComparison.Ordinal))
            return PioFvlmMethod.Create(new PioFvlmOptions { Schedule = profile.Preset(name).ToSchedule() }, profile);
        string config = RepoFiles.FindUpwards(Path.Combine("configs", "pruning", name + ".json"))
            ?? throw new ArgumentException($"schedule '{name}' is neither 'unpruned', a pio-* preset, a *.json file nor configs/pruning/{name}.json");
        return PruningConfig.Load(config, profile) with { Name = name };
    }

    /// <summary>
    /// <paramref name="repeats"/> runs of the vision stage (with the plan's pre-LLM selection, if any) and prefill; the
    /// fastest prefill counts. Then <paramref name="decodeTokens"/> greedy decode steps on the last run's cache.
    /// </summary>
    /// <param name="routeTokens">When positive, the last run also decodes this many tokens with each matmul route
    /// (<see cref="OneRowGemv"/> off = oneDNN, on = ATen's gemv), alternating in blocks (<see cref="ScheduleRow.DecodeRoutes"/>).</param>
    public ScheduleRow Measure(string name, PruningPlan plan, int repeats, int decodeTokens, int routeTokens = 0)
    {
        if (repeats < 1) throw new ArgumentOutOfRangeException(nameof(repeats), repeats, "at least one prefill per schedule");
        using var noGrad = no_grad();
        var runs = new List<ScheduleRow>();
        IReadOnlyList<DecodeRow>? routes = null;
        for (int rep = 0; rep < repeats; rep++)
        {
            using var scope = NewDisposeScope();
            var vision = _model.BuildSequence(_inputs, plan.PreLlm, plan.Scope);
            using var seq = vision.Sequence;
            using var cache = _model.NewCache(seq.Length + decodeTokens + 2 * (routeTokens + 1) + 1);
            using var prefill = _model.Prefill(seq, cache, plan.Intra, plan.Positions);
            bool finite = prefill.LastLogits.isfinite().all().item<bool>();
            long kvBytes = cache.BytesInUse;   // after the prefill, before decode adds positions
            double decodeMs = rep == repeats - 1 && decodeTokens > 0 ? Decode(prefill, cache, decodeTokens) : 0;
            if (rep == repeats - 1 && routeTokens > 0) routes = DecodeByRoute(name, prefill, cache, routeTokens);
            runs.Add(new ScheduleRow(name, prefill.VisualTokensIn, prefill.VisualTokensOut, prefill.VisualTokensPerLayer.Average(),
                prefill.TokensPerLayer.ToArray(), vision.VisionMs, prefill.PreLlm?.ReductionMs ?? 0, prefill.PrefillMs, prefill.PruningMs, kvBytes,
                FlopCount.Paper(prefill.VisualTokensPerLayer, Dims), FlopCount.ExactPrefill(prefill.TokensPerLayer, Dims),
                decodeTokens, decodeMs, finite));
        }
        var fastest = runs.MinBy(r => r.PrefillMs)!;
        return fastest with { DecodeMs = runs[^1].DecodeMs, Finite = runs.All(r => r.Finite), DecodeRoutes = routes };
    }

    /// <summary>Weight bytes one decode step of this model reads (<see cref="DecodeBreakdown.StepWeightBytes"/>).</summary>
    public long DecodeWeightBytes => DecodeBreakdown.StepWeightBytes(_model.Decoder);

    /// <summary>
    /// <paramref name="tokens"/> greedy decode steps with each matmul route on one prefill's cache, alternating in blocks
    /// of four after one warm-up step each, so both see the same machine load and nearly the same cache length.
    /// </summary>
    IReadOnlyList<DecodeRow> DecodeByRoute(string name, PrefillResult prefill, KvCache cache, int tokens)
    {
        var routes = DecodeRoutes.All;
        var ms = new double[routes.Length];
        var done = new int[routes.Length];
        int next = (int)prefill.LastLogits.argmax().item<long>();
        bool saved = OneRowGemv.Enabled;
        try
        {
            void Steps(int route, int count, bool timed)
            {
                OneRowGemv.Enabled = routes[route].Gemv;
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < count; i++)
                {
                    using var logits = DecoderRunner.Step(_model.Decoder, next, prefill.DecodeState, cache);
                    next = (int)logits.argmax().item<long>();
                }
                if (!timed) return;
                ms[route] += clock.Elapsed.TotalMilliseconds;
                done[route] += count;
            }
            for (int r = 0; r < routes.Length; r++) Steps(r, 1, timed: false);
            while (done.Min() < tokens)
                for (int r = 0; r < routes.Length; r++) Steps(r, Math.Min(4, tokens - done[r]), timed: true);
        }
        finally { OneRowGemv.Enabled = saved; }
        long bytes = DecodeWeightBytes;
        return routes.Select((r, i) => new DecodeRow(name, r.Name, r.Gemv, tokens, ms[i], tokens * 1000.0 / ms[i], bytes * (double)tokens / ms[i] / 1e6)).ToList();
    }

    /// <summary><paramref name="tokens"/> greedy decode steps after a prefill (each: one token through all layers and the
    /// LM head; EOS does not stop them); total ms.</summary>
    double Decode(PrefillResult prefill, KvCache cache, int tokens)
    {
        // The first token is the prefill's argmax; each further one costs a step: tokens + 1 new tokens = tokens steps.
        var options = new GenerationOptions { MaxNewTokens = tokens + 1, StopAtEos = false };
        return DecoderRunner.Greedy(_model.Decoder, prefill, cache, options, _model.EosIds).DecodeMs;
    }

    /// <summary>A finished prefill with room for <paramref name="tokens"/> decode steps (the decode benchmark's setup).</summary>
    public DecodeSession StartDecode(PruningPlan plan, int tokens)
    {
        using var noGrad = no_grad();
        var sequence = _model.BuildSequence(_inputs, plan.PreLlm, plan.Scope).Sequence;
        var cache = _model.NewCache(sequence.Length + tokens + 1);
        var prefill = _model.Prefill(sequence, cache, plan.Intra, plan.Positions);
        return new DecodeSession(_model.Decoder, sequence, cache, prefill);
    }

    /// <summary>The state <see cref="StartDecode"/> leaves: decode steps continue from the prefill's greedy token.</summary>
    public sealed class DecodeSession(IDecoderStack decoder, MultimodalSequence sequence, KvCache cache, PrefillResult prefill) : IDisposable
    {
        int _next = (int)prefill.LastLogits.argmax().item<long>();

        public void Steps(int tokens)
        {
            using var noGrad = no_grad();
            for (int i = 0; i < tokens; i++)
            {
                using var logits = DecoderRunner.Step(decoder, _next, prefill.DecodeState, cache);
                _next = (int)logits.argmax().item<long>();
            }
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
        using var cache = _model.NewCache(hidden.shape[1]);
        _model.Decoder.RunLayers(hidden, positions, cache, 0, 1);
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
        var hidden = randn(1, n, Dims.HiddenSize, dtype: _model.DType);
        var positions = arange(n, dtype: ScalarType.Int64).unsqueeze(0).expand(Dims.PositionRows, n);   // M-RoPE: 3 equal rows, as for text
        return Median(repeats, () =>
        {
            using var cache = _model.NewCache(n);
            var output = _model.Decoder.RunLayers(hidden, positions, cache, 0, 1);
            if (!output.isfinite().all().item<bool>())
                throw new InvalidOperationException($"layer cost: non-finite output at n = {n}");
        }, warmUp: true);
    }

    /// <summary>
    /// The pruner's pieces on the full prompt after layer 1: one layer forward, one PIO probe Full, Cheap and Cheap with
    /// all values (the cheap probe before the value fold; the family's saliency settings), and NMS selections on the real visual features (keeps of the three w/o-VE first stages) and on
    /// 2,928 clustered random features (LLaVA-NeXT's anyres maximum), each checked against the fp32 full-matrix reference.
    /// </summary>
    public PieceTimes Pieces(int repeats, Action<string> log)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var seq = _model.BuildSequence(_inputs).Sequence;
        var lm = _model.Decoder;
        var hidden = lm.RunLayers(seq.Embeddings, seq.PositionIds, null, 0, 1);
        var state = new PrefillState(hidden, seq.PositionIds, seq.VisualSpans, seq.TokenIds, 1);

        double layerMs = Median(repeats, () => lm.RunLayers(hidden, seq.PositionIds, null, 1, 2), warmUp: true);
        log($"one layer forward  median {layerMs:F1} ms of {repeats} (S = {seq.Length})");
        var probe = new Dictionary<ProbeImplementation, double>();
        foreach (var kind in new[] { ProbeImplementation.Full, ProbeImplementation.CheapAllValues, ProbeImplementation.Cheap })
        {
            var scorer = new GradientSaliency(_model.Profile.Saliency with { Probe = kind });
            probe[kind] = Median(repeats, () => scorer.Score(state, lm), warmUp: true);
            log($"probe {kind,-14} median {probe[kind]:F1} ms of {repeats}");
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
        return new PieceTimes(seq.Length, layerMs, probe[ProbeImplementation.Full], probe[ProbeImplementation.Cheap], nms,
                              probe[ProbeImplementation.CheapAllValues]);
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

    public void Dispose()
    {
        _inputs.Dispose();
        _model.Dispose();
    }
}
