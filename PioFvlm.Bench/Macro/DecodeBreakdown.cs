using System.Diagnostics;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Runtime;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Macro;

/// <summary>
/// Where a decode step's time goes at the model's shape: the step as <c>pio-fvlm generate</c> runs it
/// (<see cref="DecoderRunner.Step"/> + the argmax), and the same step taken apart op by op (the seven projections,
/// RoPE, cache writes, attention over the cache, norms, residual adds, final norm, LM head, argmax), both for each
/// matmul route (<see cref="OneRowGemv"/> on = ATen's gemv, off = oneDNN), alternating step by step in one process.
/// The cache is filled with random keys and values for <c>cached</c> positions (no prefill needed); managed overhead =
/// the whole step less the sum of its timed ops. Effective bandwidth = weight bytes a step reads / step time.
/// </summary>
public static class DecodeBreakdown
{
    /// <summary>Op names in the order the step runs them (per-layer ops are summed over the layers).</summary>
    public static readonly string[] Ops =
    [
        "embed + RoPE tables", "input norm", "q proj", "k proj", "v proj", "RoPE q, k", "cache write", "attention over cache",
        "o proj", "residual adds", "post-attention norm", "gate proj", "up proj", "silu * up", "down proj",
        "final norm", "LM head", "argmax (host sync)",
    ];

    /// <summary>Weight bytes one decode step reads: every decoder layer's parameters, the final norm and the LM head
    /// (the embedding row it gathers is negligible).</summary>
    public static long StepWeightBytes(IDecoderStack decoder)
    {
        long bytes = 0;
        for (int l = 0; l < decoder.LayerCount; l++)
            foreach (var p in decoder.Layer(l).parameters()) bytes += p.numel() * ElementSize.Of(p.dtype);
        var head = decoder.OutputHeadWeight;
        return bytes + (head.numel() + decoder.Dims.HiddenSize) * ElementSize.Of(head.dtype);
    }

    public static DecodeProfile Measure(IDecoderStack decoder, ScalarType dtype, long cached, int steps, Action<string> log)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "at least one decode step per route");
        using var noGrad = no_grad();
        var dims = decoder.Dims;
        long weightBytes = StepWeightBytes(decoder);
        var routes = DecodeRoutes.All;
        bool saved = OneRowGemv.Enabled;
        // Each route: its own cache, filled alike; every step appends one position per layer (full step + op pass).
        var caches = routes.Select(_ => Filled(decoder, dtype, cached, 2 * steps + 4)).ToArray();
        var stepMs = routes.Select(_ => new List<double>()).ToArray();
        var opMs = routes.Select(_ => Ops.ToDictionary(o => o, _ => new List<double>())).ToArray();
        try
        {
            for (int s = -1; s < steps; s++)                 // s = -1: warm-up of both routes
                for (int r = 0; r < routes.Length; r++)
                {
                    OneRowGemv.Enabled = routes[r].Gemv;
                    var state = new DecodeState(PositionPolicy.Compact, dims.PositionRows, cached);
                    var clock = Stopwatch.StartNew();
                    using (var logits = DecoderRunner.Step(decoder, 1, state, caches[r])) logits.argmax().item<long>();
                    double whole = clock.Elapsed.TotalMilliseconds;
                    var ops = TimeOps(decoder, dtype, caches[r]);
                    if (s < 0) continue;
                    stepMs[r].Add(whole);
                    foreach (var (name, ms) in ops) opMs[r][name].Add(ms);
                }
        }
        finally
        {
            OneRowGemv.Enabled = saved;
            foreach (var c in caches) c.Dispose();
        }
        var variants = new List<DecodeRoute>();
        for (int r = 0; r < routes.Length; r++)
        {
            double step = Median(stepMs[r]);
            var ops = Ops.ToDictionary(o => o, o => Median(opMs[r][o]));
            var route = new DecodeRoute(routes[r].Name, routes[r].Gemv, step, weightBytes / step / 1e6, ops, step - ops.Values.Sum());
            variants.Add(route);
            log($"decode step {route.Name,-18} median {step,8:F1} ms of {steps}  {route.EffectiveGBps,5:F1} GB/s  " +
                $"(projections {Projections(ops):F0} ms, LM head {ops["LM head"]:F0} ms, attention {ops["attention over cache"]:F1} ms, overhead {route.OverheadMs:F1} ms)");
        }
        double read = ReadBandwidth.GBps(get_num_threads());
        log($"streaming read bandwidth ({get_num_threads()} threads, 1 GiB): {read:F1} GB/s: a step of {weightBytes / 1e9:F2} GB takes at least {weightBytes / read / 1e6:F0} ms ({read * 1e9 / weightBytes:F2} tokens/s)");
        return new DecodeProfile(cached, steps, decoder.LayerCount, weightBytes, OneRowGemv.Available, variants, read);
    }

    static double Projections(IReadOnlyDictionary<string, double> ops) =>
        new[] { "q proj", "k proj", "v proj", "o proj", "gate proj", "up proj", "down proj" }.Sum(o => ops[o]);

    /// <summary>A cache with room for <paramref name="room"/> more positions, each layer holding <paramref name="cached"/> random ones.</summary>
    static KvCache Filled(IDecoderStack decoder, ScalarType dtype, long cached, int room)
    {
        var dims = decoder.Dims;
        var cache = KvCache.For(dims, 1, cached + room, dtype);
        using var scope = NewDisposeScope();
        for (int l = 0; l < decoder.LayerCount; l++)
            cache.Append(l, randn(1, dims.NumKvHeads, cached, dims.HeadDim).to_type(dtype), randn(1, dims.NumKvHeads, cached, dims.HeadDim).to_type(dtype));
        return cache;
    }

    /// <summary>One decode step taken apart op by op, as <see cref="DecoderLayer"/> and <see cref="Attention"/> run it;
    /// ms per op, summed over the layers. Runs inside <see cref="OneRowGemv.Enter"/> as the real step does.</summary>
    static Dictionary<string, double> TimeOps(IDecoderStack decoder, ScalarType dtype, KvCache cache)
    {
        using var gemv = OneRowGemv.Enter();
        using var scope = NewDisposeScope();
        var ms = Ops.ToDictionary(o => o, _ => 0.0);
        var clock = new Stopwatch();
        T Time<T>(string op, Func<T> work)
        {
            clock.Restart();
            var result = work();
            ms[op] += clock.Elapsed.TotalMilliseconds;
            return result;
        }
        var dims = decoder.Dims;
        var state = new DecodeState(PositionPolicy.Compact, dims.PositionRows, cache.LengthOf(0));
        var (h, rope) = Time("embed + RoPE tables", () =>
            (decoder.Embed(tensor(new long[] { 1 }, ScalarType.Int64).unsqueeze(0)),
             decoder.Rope(state.PositionIds(cache.LengthOf(0), CPU), dtype)));
        for (int l = 0; l < decoder.LayerCount; l++)
        {
            var layer = decoder.Layer(l);
            var attn = layer.SelfAttention;
            var x = h;
            var normed = Time("input norm", () => layer.InputLayernorm.forward(x));
            var q = Time("q proj", () => attn.QProj.forward(normed));
            var k = Time("k proj", () => attn.KProj.forward(normed));
            var v = Time("v proj", () => attn.VProj.forward(normed));
            (q, k) = Time("RoPE q, k", () => (
                RotaryEmbedding.Apply(q.view(1, 1, attn.NumHeads, attn.HeadDim).transpose(1, 2), rope),
                RotaryEmbedding.Apply(k.view(1, 1, attn.NumKvHeads, attn.HeadDim).transpose(1, 2), rope)));
            var (keys, values) = Time("cache write", () =>
            {
                cache.Append(l, k, v.view(1, 1, attn.NumKvHeads, attn.HeadDim).transpose(1, 2));
                return (cache.Keys(l), cache.Values(l));
            });
            var heads = Time("attention over cache", () => Attention.Attend(q, keys, values, attn.Kernel));
            var o = Time("o proj", () => attn.OProj.forward(heads.transpose(1, 2).reshape(1, 1, (long)attn.NumHeads * attn.HeadDim)));
            var mid = Time("residual adds", () => x + o);
            var post = Time("post-attention norm", () => layer.PostAttentionLayernorm.forward(mid));
            var gate = Time("gate proj", () => layer.Mlp.GateProj.forward(post));
            var up = Time("up proj", () => layer.Mlp.UpProj.forward(post));
            var gated = Time("silu * up", () => nn.functional.silu(gate) * up);
            var down = Time("down proj", () => OneRowGemv.Project(layer.Mlp.DownProj, gated));
            h = Time("residual adds", () => mid + down);
        }
        var final = Time("final norm", () => decoder.Norm(h));
        var logits = Time("LM head", () => nn.functional.linear(final, decoder.OutputHeadWeight));
        Time("argmax (host sync)", () => logits.reshape(-1).to(ScalarType.Float32).argmax().item<long>());
        return ms;
    }

    static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

/// <summary>Decode steps of the model taken apart, per matmul route (<see cref="DecodeBreakdown"/>).</summary>
/// <param name="CachedPositions">Positions in every layer's cache before the timed steps (the unpruned prompt's length).</param>
/// <param name="StepWeightBytes">Weight bytes one step reads (decoder layers, final norm, LM head).</param>
/// <param name="GemvSwitchAvailable">Whether this libtorch exposes the oneDNN switch (false: both routes are oneDNN).</param>
/// <param name="ReadGBps">The machine's streaming read bandwidth at the run's thread count (<see cref="ReadBandwidth"/>);
/// null in measurements older than it.</param>
public sealed record DecodeProfile(long CachedPositions, int Steps, int Layers, long StepWeightBytes, bool GemvSwitchAvailable,
                                   IReadOnlyList<DecodeRoute> Routes, double? ReadGBps = null);

/// <summary>One matmul route: median whole-step ms, effective GB/s, the median ms of each op (summed over layers) and
/// the managed overhead (whole step less the sum of the ops).</summary>
public sealed record DecodeRoute(string Name, bool AtenGemv, double StepMs, double EffectiveGBps,
                                 IReadOnlyDictionary<string, double> OpMs, double OverheadMs);
