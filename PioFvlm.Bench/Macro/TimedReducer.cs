using System.Diagnostics;
using PioFvlm.Core.Pruning;

namespace PioFvlm.Bench.Macro;

/// <summary>A pre-LLM reducer that adds up the time spent inside <see cref="IPreLlmReducer.Reduce"/> (the selection
/// alone, part of the paper's prefill), whatever family's vision stage calls it.</summary>
sealed class TimedReducer(IPreLlmReducer inner) : IPreLlmReducer
{
    public double Ms { get; private set; }

    public VisionSignalRequest Signals => inner.Signals;

    public PreLlmReduction Reduce(VisionStageContext context)
    {
        var clock = Stopwatch.StartNew();
        var result = inner.Reduce(context);
        Ms += clock.Elapsed.TotalMilliseconds;
        return result;
    }
}
