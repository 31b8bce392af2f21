using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using PioFvlm.Core.Pruning;

namespace PioFvlm.Bench.Macro;

/// <summary>
/// The macro suite: LLaVA-1.5-7B (random bf16 weights, 32 layers, 576 visual + 60 text tokens) unpruned, PIO-FVLM at
/// 33.3 / 22.2 / 11.1 % without and with the vision-encoder stage, and FastV, DART, VisionZip at 11.1 %: one image
/// encoding + prefill per operation, and decode steps after a prefill (per token). The model is
/// <see cref="PrefillRig.Shared"/>, built once per process (the in-process toolchain of <c>pio-fvlm bench</c>),
/// about 14.5 GB; set PIOFVLM_BENCH_SMOKE=1 for the tiny shape. Monitoring strategy, few iterations: one operation
/// takes seconds. scripts/perf_report.sh measures the same calls through <c>measure-llava-7b-prefill</c>.
/// </summary>
[BenchmarkCategory("macro")]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class LlavaPrefillBenchmark
{
    public const int DecodeTokens = 4;

    [Params("unpruned", "pio-33", "pio-22", "pio-11", "pio-ve-33", "pio-ve-22", "pio-ve-11", "fastv-64", "dart-64", "visionzip-64")]
    public string Schedule { get; set; } = "unpruned";

    PrefillRig _rig = null!;
    PruningPlan _plan = null!;
    PrefillRig.DecodeSession? _session;

    [GlobalSetup]
    public void Setup()
    {
        _rig = PrefillRig.Shared;
        _plan = PrefillRig.PlanFor(Schedule, _rig.Model.Profile);
    }

    [Benchmark(Description = "encode + prefill")]
    public ScheduleRow Prefill() => _rig.Measure(Schedule, _plan, repeats: 1, decodeTokens: 0);

    [IterationSetup(Target = nameof(Decode))]
    public void StartDecode() => _session = _rig.StartDecode(_plan, DecodeTokens);

    [IterationCleanup(Target = nameof(Decode))]
    public void EndDecode() => _session?.Dispose();

    [Benchmark(OperationsPerInvoke = DecodeTokens, Description = "decode (per token)")]
    public void Decode() => _session!.Steps(DecodeTokens);
}
