using System.Diagnostics;
using System.Globalization;
using PioFvlm.Bench.Commands;
using PioFvlm.Bench.Micro.Infrastructure;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Runtime;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Macro;

/// <summary>
/// <c>pio-fvlm measure-attention-memory --kernel sdpa|eager [--positions N]</c>: the native peak memory of ONE decoder
/// layer forward of the LLaMA-7B / Vicuna-7B shape (LLaVA-1.5-7B and LLaVA-NeXT-7B: hidden 4096, 32 heads, MLP 11008,
/// random bf16 weights) over N causal positions, with the fused kernel the prefill uses
/// (<see cref="AttentionKernel.Sdpa"/>) or the eager oracle kernel that materialises softmax(QKᵀ/√d) as [32, N, N].
/// The peak is the process's VmHWM, reset after the weights and inputs are built (/proc/self/clear_refs), minus the
/// resident set at that moment; peak RSS is per process, so run each kernel in its own process
/// (scripts/attention_memory.sh does). Linux only.
/// </summary>
public static class AttentionMemory
{
    public static readonly CommandSyntax Syntax = new("measure-attention-memory",
    [
        CliOption.Require("kernel", "sdpa|eager", "the attention kernel of the layer"),
        CliOption.Optional("positions", "N", "sequence length (default 2988: LLaVA-NeXT's 672x672 prompt)"),
        CliOption.Optional("threads", "N", "torch threads (default 2)"),
    ]);

    public static int Run(string[] args)
    {
        var a = new ArgReader(args, Syntax);
        var kernel = a.Value("kernel") switch
        {
            "sdpa" => AttentionKernel.Sdpa,
            "eager" => AttentionKernel.Eager,
            var k => throw new UsageException($"--kernel: '{k}' is not sdpa or eager"),
        };
        int n = a.Int("positions", 2988, min: 1);
        int threads = a.Int("threads", 2, min: 1);

        TorchRuntime.EnsureLoaded();
        set_num_threads(threads);
        using var noGrad = no_grad();
        manual_seed(0);
        var dims = LayerCostCurve.Llama7bOneLayer;
        using var layer = new DecoderLayer("layer", dims, 0, CPU, ScalarType.BFloat16);
        foreach (var p in layer.parameters()) p.requires_grad = false;
        layer.SelfAttention.Kernel = kernel;
        using var scope = NewDisposeScope();
        var hidden = randn(1, n, dims.HiddenSize, dtype: ScalarType.BFloat16);
        var rope = new RotaryEmbedding(dims.HeadDim, dims.RopeTheta).Tables(arange(n, dtype: ScalarType.Int64).unsqueeze(0), ScalarType.BFloat16);

        long before = NativePeakRss.Bytes("VmRSS") ?? throw new PlatformNotSupportedException("measure-attention-memory reads /proc/self/status (Linux)");
        if (!NativePeakRss.Reset())
            throw new PlatformNotSupportedException("measure-attention-memory resets VmHWM through /proc/self/clear_refs, which this system refuses");
        var clock = Stopwatch.StartNew();
        using (NewDisposeScope())
            layer.forward(new DecoderLayerInput(hidden, rope)).Hidden.Dispose();
        double ms = clock.Elapsed.TotalMilliseconds;
        long peak = NativePeakRss.Bytes("VmHWM")!.Value;

        double attentionMatrix = (double)dims.NumHeads * n * n * sizeof(float);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"kernel {kernel}, one LLaMA-7B-shape layer (hidden {dims.HiddenSize}, {dims.NumHeads} heads, bf16), {n} positions, {threads} threads"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"resident before the forward {before / 1048576.0:F0} MiB; peak during it {peak / 1048576.0:F0} MiB; forward's extra peak {(peak - before) / 1048576.0:F0} MiB; forward {ms:F0} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"one fp32 [{dims.NumHeads}, {n}, {n}] attention matrix would be {attentionMatrix / 1048576.0:F0} MiB"));
        return 0;
    }
}
