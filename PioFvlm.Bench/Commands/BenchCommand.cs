using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using PioFvlm.Bench.Micro.Infrastructure;
using PioFvlm.Core.Runtime;

namespace PioFvlm.Bench.Commands;

/// <summary>
/// <c>pio-fvlm bench [BenchmarkDotNet arguments]</c>: the BenchmarkDotNet switcher over this assembly's benchmark
/// classes (select with <c>--filter</c> or <c>--anyCategories micro</c>, list with <c>--list flat</c>).
/// </summary>
public static class BenchCommand
{
    public static int Run(string[] args)
    {
        TorchRuntime.EnsureLoaded();
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
