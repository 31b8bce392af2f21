namespace PioFvlm.Core.Pruning.SparseVlm;

/// <summary>
/// SparseVLM v1.5 schedules for LLaVA-1.5-7B (spec baselines §5.6): visual tokens kept at pruning layers 2 / 6 / 15
/// (0-based). The pruning layer runs on its full input and its output is cut, so in the engine's convention a stage
/// acts after <c>layer + 1</c> layers: AfterLayer 3 / 7 / 16. Recycled cluster tokens come on top of these counts.
/// </summary>
public static class SparseVlmSchedules
{
    /// <summary>The v1.5 pruning layers (0-based), <c>pruning_loc</c>.</summary>
    public static IReadOnlyList<int> PruningLayers { get; } = [2, 6, 15];

    static PruningSchedule Make(string name, int budget, int k2, int k6, int k15) => new()
    {
        Name = name, IsReference = true,
        Stages = [new() { AfterLayer = 3, Keep = k2 }, new() { AfterLayer = 7, Keep = k6 }, new() { AfterLayer = 16, Keep = k15 }],
        Note = $"SparseVLM v1.5 score.py, retained_tokens {budget}: layers 2/6/15 keep {k2}/{k6}/{k15} (+ recycled tokens)",
    };

    public static PruningSchedule V15Keep192 { get; } = Make("sparsevlm-192", 192, 300, 200, 110);
    public static PruningSchedule V15Keep128 { get; } = Make("sparsevlm-128", 128, 303, 110, 36);
    public static PruningSchedule V15Keep64 { get; } = Make("sparsevlm-64", 64, 66, 30, 17);

    public static IReadOnlyList<PruningSchedule> All { get; } = [V15Keep192, V15Keep128, V15Keep64];

    /// <summary>The v1.5 schedule for a budget of 64, 128 or 192 (layer-averaged convention).</summary>
    public static PruningSchedule ForBudget(int budget) => budget switch
    {
        64 => V15Keep64,
        128 => V15Keep128,
        192 => V15Keep192,
        _ => throw new ArgumentException($"SparseVLM v1.5 has schedules for 64, 128 and 192 retained tokens, not {budget}"),
    };
}
