namespace PioFvlm.Core.Pruning.Efficiency;

/// <summary>
/// A named pruning recipe: an optional pre-LLM (vision-encoder) reduction to an absolute count or a fraction, then
/// intra-LLM stages.
/// </summary>
public sealed record SchedulePreset(string Name, string Description, int? PreLlmKeep, double? PreLlmRatio, IReadOnlyList<PruningStage> Stages)
{
    /// <summary>Visual tokens entering the LLM when the encoder produced <paramref name="visual"/>.</summary>
    public long VisualEnteringLlm(long visual) =>
        PreLlmKeep is int k ? Math.Min(k, visual) : PreLlmRatio is double r ? (long)Math.Floor(r * visual) : visual;
}

/// <summary>
/// The paper's schedules (spec §5.2, §5.4). Interim home: the full PruningSchedule type is built elsewhere and the
/// lead will unify the two.
/// </summary>
public static class SchedulePresets
{
    static PruningStage Keep(int afterLayer, int keep) => new() { AfterLayer = afterLayer, Keep = keep };

    static SchedulePreset WithoutVe(string name, string target, int a, int b, int c) =>
        new(name, $"LLaVA-1.5 {target} w/o VE: 576 visual, keep {a}/{b}/{c} after layers 1/10/15", null, null,
            [Keep(1, a), Keep(10, b), Keep(15, c)]);

    static SchedulePreset WithVe(string name, string target, int ve, int llm) =>
        new(name, $"LLaVA-1.5 {target} w/ VE: {ve} visual from the encoder, keep {llm} after layer 16", ve, null, [Keep(16, llm)]);

    /// <summary>LLaVA-1.5 (absolute counts, L = 32) and Qwen2.5-VL (ratios, L = 28).</summary>
    public static IReadOnlyList<SchedulePreset> All { get; } =
    [
        WithoutVe("pio-11", "11.1 % (64)", 92, 54, 22),
        WithoutVe("pio-22", "22.2 % (128)", 218, 128, 54),
        WithoutVe("pio-33", "33.3 % (192)", 344, 202, 86),
        WithVe("pio-ve-11", "11.1 % (64)", 96, 32),
        WithVe("pio-ve-22", "22.2 % (128)", 192, 64),
        WithVe("pio-ve-33", "33.3 % (192)", 288, 96),
        new("qwen-pio-ve-11", "Qwen2.5-VL 11.1 % w/ VE (README): encoder keeps 0.167, then 0.333 of that after layer 14",
            null, 0.167, [new PruningStage { AfterLayer = 14, Ratio = 0.333, RatioOf = RatioBase.Current }]),
    ];

    /// <summary>The preset called <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="KeyNotFoundException">No such preset; the message lists the known names.</exception>
    public static SchedulePreset Get(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new KeyNotFoundException($"unknown schedule preset '{name}' (known: {string.Join(", ", All.Select(p => p.Name))})");
}
