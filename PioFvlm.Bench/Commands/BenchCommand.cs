using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using PioFvlm.Bench.Micro.Infrastructure;
using PioFvlm.Core.Runtime;

namespace PioFvlm.Bench.Commands;

/// <summary>
/// <c>pio-fvlm bench [--threads N] [BenchmarkDotNet arguments]</c>: the BenchmarkDotNet switcher over this assembly's
/// benchmark classes (select with <c>--filter</c> or <c>--anyCategories micro|macro|cost-curve|nms|probe|...</c>, list
/// with <c>--list flat</c>). The macro and cost-curve suites share one LLaVA-1.5-7B build per process
/// (<see cref="Macro.PrefillRig.Shared"/>; PIOFVLM_BENCH_SMOKE=1 for the tiny shape).
/// </summary>
public static class BenchCommand
{
    public static int Run(string[] args)
    {
        TorchRuntime.EnsureLoaded();
        // Torch threads are ours to set (BenchmarkDotNet does not know the option): on a shared 2-core machine the
        // default can oversubscribe the cores and turn milliseconds into hundreds of them.
        int at = Array.IndexOf(args, "--threads");
        if (at >= 0)
        {
            if (at + 1 >= args.Length || !int.TryParse(args[at + 1], System.Globalization.NumberStyles.Integer,
                    System.Globalization.CultureInfo.InvariantCulture, out int threads) || threads < 1)
                throw new UsageException("--threads needs a positive integer");
            TorchSharp.torch.set_num_threads(threads);
            args = [.. args[..at], .. args[(at + 2)..]];
        }
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Cli).Assembly).Run(args, DefaultConfig());
        Console.WriteLine($"native peak RSS of this process (VmHWM): {NativePeakRss.Text()}");
        return summaries.Any(s => s.HasCriticalValidationErrors) ? 1 : 0;
    }

    /// <summary>
    /// Every job runs in this process (an in-process toolchain applied to all jobs as a mutator): libtorch's native
    /// setup and the model objects are built once per process, and out-of-process builds of this solution are slow.
    /// Managed allocations come from the memory diagnoser, native peak RSS from <see cref="NativePeakRssDiagnoser"/>.
    /// </summary>
    public static IConfig DefaultConfig() =>
        ManualConfig.Create(BenchmarkDotNet.Configs.DefaultConfig.Instance)
            .AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).AsMutator())
            .AddDiagnoser(MemoryDiagnoser.Default, new NativePeakRssDiagnoser())
            .WithOptions(ConfigOptions.JoinSummary);
}
