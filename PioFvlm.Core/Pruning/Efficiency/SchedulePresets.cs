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

    /// <summary>As a <see cref="PruningSchedule"/> (absolute pre-LLM counts only).</summary>
    public PruningSchedule ToSchedule() => PreLlmRatio is null
        ? new PruningSchedule { Name = Name, Stages = Stages, PreLlmKeep = PreLlmKeep, Note = Description }
        : throw new NotSupportedException($"schedule preset '{Name}' has a pre-LLM ratio ({PreLlmRatio}); give an absolute count");
}

/// <summary>
/// Short names for the paper's schedules (spec §5.2, §5.4), as used by <c>estimate</c> and <c>generate</c>. The LLaVA-1.5
/// entries are aliases of <see cref="Llava15Schedules"/> (the one place their numbers live); the Qwen entry uses a
/// pre-LLM ratio, which <see cref="PruningSchedule"/> does not carry.
/// </summary>
public static class SchedulePresets
{
    static SchedulePreset Alias(string name, PruningSchedule schedule) =>
        new(name, $"{schedule.Name}{(schedule.IsReference ? " (reference)" : " (ours)")}: {schedule.Note}",
            schedule.PreLlmKeep, null, schedule.Stages);

    /// <summary>LLaVA-1.5 (absolute counts, L = 32) and Qwen2.5-VL (ratios, L = 28).</summary>
    public static IReadOnlyList<SchedulePreset> All { get; } =
    [
        Alias("pio-11", Llava15Schedules.WithoutVe11),
        Alias("pio-22", Llava15Schedules.WithoutVe22),
        Alias("pio-33", Llava15Schedules.WithoutVe33),
        Alias("pio-ve-11", Llava15Schedules.WithVe11),
        Alias("pio-ve-22", Llava15Schedules.WithVe22),
        Alias("pio-ve-33", Llava15Schedules.WithVe33),
        .. new[] { 64, 128, 192 }.SelectMany(b => new[]
        {
            Alias($"fastv-{b}", Attention.Llava15AttentionBaselines.FastV(b)),
            Alias($"pdrop-{b}", Attention.Llava15AttentionBaselines.PDrop(b)),
        }),
        Alias("pdrop-official", Attention.Llava15AttentionBaselines.PDropOfficial),
        new("qwen-pio-ve-11", "Qwen2.5-VL 11.1 % w/ VE (README): encoder keeps 0.167, then 0.333 of that after layer 14",
            null, 0.167, [new PruningStage { AfterLayer = 14, Ratio = 0.333, RatioOf = RatioBase.Current }]),
    ];

    /// <summary>The preset called <paramref name="name"/> (case-insensitive; the long LLaVA-1.5 names work too).</summary>
    /// <exception cref="KeyNotFoundException">No such preset; the message lists the known names.</exception>
    public static SchedulePreset Get(string name)
    {
        var hit = All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
        if (hit != null) return hit;
        var full = Llava15Schedules.All.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase));
        if (full != null) return Alias(full.Name, full);
        throw new KeyNotFoundException($"unknown schedule preset '{name}' (known: {string.Join(", ", All.Select(p => p.Name))})");
    }
}
