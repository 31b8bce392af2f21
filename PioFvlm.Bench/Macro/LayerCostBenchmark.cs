using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Macro;

/// <summary>
/// The per-layer cost curve: one LLaMA-7B decoder layer in bf16 (layer 0 of <see cref="PrefillRig.Shared"/>, the
/// macro suite's model, so both are measured in the same process) over n = 22 ... 2,988 tokens with a fresh KV cache,
/// through the prefill's <c>RunLayers</c> call. The base of the speed-of-light ratios (<see cref="SpeedOfLight"/>).
/// </summary>
[BenchmarkCategory("cost-curve")]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class LayerCostBenchmark
{
    [ParamsSource(nameof(Points))]
    public int Tokens { get; set; }

    public static IEnumerable<int> Points => LayerCostCurve.DefaultPoints;

    PrefillRig _rig = null!;
    Tensor _hidden = null!, _positions = null!;

    [GlobalSetup]
    public void Setup()
    {
        _rig = PrefillRig.Shared;
        manual_seed(Tokens);
        _hidden = randn(1, Tokens, _rig.Dims.HiddenSize, dtype: _rig.Model.DType);
        _positions = arange(Tokens, dtype: ScalarType.Int64).unsqueeze(0);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _hidden.Dispose();
        _positions.Dispose();
    }

    [Benchmark(Description = "one decoder layer")]
    public void Layer() => _rig.RunOneLayer(_hidden, _positions);
}
