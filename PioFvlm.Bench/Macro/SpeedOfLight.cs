using PioFvlm.Core.Pruning.Efficiency;
using PioFvlm.Models.Llava;

namespace PioFvlm.Bench.Macro;

/// <summary>
/// The best prefill speedup a schedule can give on this machine if pruning itself were free: the sum of the measured
/// per-layer cost at the unpruned length over the sum at the schedule's lengths,
/// Σ_l cost(n_unpruned) / Σ_l cost(n_l). <see cref="TokenLayerRatio"/> is the same with cost(n) = n, beside it to show
/// how far the cost curve is from linear (weights are read once per layer whatever n is).
/// </summary>
public sealed record SpeedOfLight(string Schedule, double UnprunedMs, double PrunedMs, double TokenLayerRatio)
{
    public double Ratio => UnprunedMs / PrunedMs;

    /// <summary>Speed of light of <paramref name="pruned"/> against <paramref name="unpruned"/> (same layer count).</summary>
    public static SpeedOfLight Of(string name, CostCurve curve, IReadOnlyList<long> unpruned, IReadOnlyList<long> pruned)
    {
        if (unpruned.Count != pruned.Count)
            throw new ArgumentException($"schedule '{name}': {pruned.Count} layers, but the unpruned run has {unpruned.Count}");
        if (pruned.Count == 0) throw new ArgumentException($"schedule '{name}' has no layers");
        return new SpeedOfLight(name,
            unpruned.Sum(n => curve.At(n)),
            pruned.Sum(n => curve.At(n)),
            (double)unpruned.Sum() / pruned.Sum());
    }

    /// <summary>A preset's schedule on LLaVA-1.5-7B (32 layers, <paramref name="visual"/> visual + <paramref name="text"/> text tokens).</summary>
    public static SpeedOfLight ForPreset(string preset, CostCurve curve, int layers = 32, long visual = 576, long text = 60)
    {
        var p = Llava15Presets.Get(preset);
        var unpruned = TokenSchedule.Unpruned(layers, visual, text).SequencePerLayer;
        var pruned = TokenSchedule.Build(layers, p.VisualEnteringLlm(visual), text, p.Stages).SequencePerLayer;
        return Of(preset, curve, unpruned, pruned);
    }
}
