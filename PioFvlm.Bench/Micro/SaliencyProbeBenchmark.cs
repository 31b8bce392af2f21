using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Core.Runtime;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Micro;

/// <summary>
/// One PIO-FVLM saliency probe (<see cref="GradientSaliency"/>: one decoder layer forward, final norm and LM head at
/// the 4-position window, backward to the hidden states, per-token gradient norms) with the Full and the Cheap
/// implementation, at the LLaVA-1.5-7B layer shape in bf16 (S = 636, 576 visual), next to one plain decoder layer
/// forward on the same input as the unit of cost. Model and state are built once (2 layers, about 1.4 GB).
/// </summary>
[BenchmarkCategory("micro", "probe")]
[SimpleJob(RunStrategy.Monitoring, warmupCount: 1, iterationCount: 5)]
public class SaliencyProbeBenchmark
{
    SevenBLayerModel _model = null!;
    readonly GradientSaliency _full = new(new GradientSaliencyOptions { Probe = ProbeImplementation.Full });
    readonly GradientSaliency _cheap = new(new GradientSaliencyOptions { Probe = ProbeImplementation.Cheap });

    [GlobalSetup]
    public void Setup()
    {
        TorchRuntime.EnsureLoaded();
        _model = new SevenBLayerModel(layers: 2, layersDone: 0);
    }

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();

    [Benchmark(Baseline = true, Description = "one layer forward (no grad)")]
    public void LayerForward()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var state = _model.State;
        var rope = _model.Model.Rope(state.PositionIds, ScalarType.BFloat16);
        _model.Model.RunLayers(state.Hidden, rope, null, 0, 1);
    }

    [Benchmark(Description = "probe Full")]
    public void ProbeFull() => Score(_full);

    [Benchmark(Description = "probe Cheap")]
    public void ProbeCheap() => Score(_cheap);

    void Score(GradientSaliency scorer)
    {
        using var noGrad = no_grad();
        scorer.Score(_model.State, _model.Model).Dispose();
    }
}
