using BenchmarkDotNet.Configs;
using BenchmarkDotNet.ConsoleArguments;
using BenchmarkDotNet.Loggers;
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
    public static readonly CommandSyntax Syntax = new("bench",
    [
        // Torch threads are ours to set (BenchmarkDotNet does not know the option): on a shared 2-core machine the
        // default can oversubscribe the cores and turn milliseconds into hundreds of them.
        CliOption.Optional("threads", "N", "torch threads for the benchmarks (default: torch's)"),
    ])
    {
        Forwarded = "BenchmarkDotNet arguments",
        Note = "Every other argument goes to BenchmarkDotNet, e.g. --anyCategories micro|macro|cost-curve|nms|probe|attention|io|vision,\n" +
               "--filter '*Nms*', --list flat, --job short, --memory. Its -h (hide columns) is spelled --hide here, and\n" +
               "'pio-fvlm bench -- --help' prints BenchmarkDotNet's own options (arguments after -- go to it unread).\n" +
               "PIOFVLM_BENCH_SMOKE=1 runs the macro and cost-curve suites at the tiny shape.",
    };

    public static int Run(string[] args)
    {
        var a = new ArgReader(args, Syntax);
        string[] forwarded = [.. a.Forwarded];
        CheckBenchmarkDotNetArguments(forwarded);
        TorchRuntime.EnsureLoaded();
        if (a.Value("threads") != null) TorchSharp.torch.set_num_threads(a.Int("threads", 0, min: 1));
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Cli).Assembly).Run(forwarded, DefaultConfig());
        Console.WriteLine($"native peak RSS of this process (VmHWM): {NativePeakRss.Text()}");
        return summaries.Any(s => s.HasCriticalValidationErrors) ? 1 : 0;
    }

    /// <summary>
    /// BenchmarkDotNet prints its parse errors to stdout and runs nothing, which would exit 0; parsing first makes a bad
    /// argument a usage error (exit 2) naming it. Its own --help and --version are let through.
    /// </summary>
    static void CheckBenchmarkDotNetArguments(string[] args)
    {
        if (args.Any(x => x is "--help" or "--version")) return;
        var log = new AccumulationLogger();
        if (ConfigParser.Parse(args, log).isSuccess) return;
        var errors = log.GetLog().Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                        .SkipWhile(l => l != "ERROR(S):").Skip(1).TakeWhile(l => l != "USAGE:").ToList();
        throw new UsageException($"BenchmarkDotNet rejected its arguments ({string.Join(' ', args)}): " +
                                 (errors.Count > 0 ? string.Join(" ", errors) : log.GetLog().Trim()));
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
