using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using PioFvlm.Core.Pruning.Attention;
using PioFvlm.Core.Runtime;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Micro;

/// <summary>
/// The attention signal of FastV / PDrop / SparseVLM: the last prompt token's head-mean attention row computed beside
/// the layer (<see cref="AttentionRows.HeadMean"/>: q for that row only, k for all positions, fp32 softmax), against
/// the eager full map an output_attentions run materialises (all S query rows, [32, S, S] fp32, head mean), at the
/// LLaVA-1.5-7B layer shape in bf16, S = 636. Model (1 layer) and hidden states are built once.
/// </summary>
[BenchmarkCategory("micro", "attention")]
[SimpleJob(RunStrategy.Throughput, warmupCount: 1, iterationCount: 5)]
public class AttentionRowsBenchmark
{
    SevenBLayerModel _model = null!;
    long[] _allRows = [];

    [GlobalSetup]
    public void Setup()
    {
        TorchRuntime.EnsureLoaded();
        _model = new SevenBLayerModel(layers: 1);
        _allRows = Enumerable.Range(0, (int)SevenBLayerModel.Length).Select(i => (long)i).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();

    [Benchmark(Baseline = true, Description = "last row (AttentionRows.HeadMean)")]
    public void LastRow() => Rows([SevenBLayerModel.Length - 1]);

    [Benchmark(Description = "eager full map (S rows)")]
    public void FullMap() => Rows(_allRows);

    void Rows(IReadOnlyList<long> rows)
    {
        using var noGrad = no_grad();
        var state = _model.State;
        AttentionRows.HeadMean(_model.Model, 0, state.Hidden, state.PositionIds, rows).Dispose();
    }
}
