using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Efficiency;

namespace PioFvlm.Models.Llava;

/// <summary>
/// LLaVA-1.5's schedule presets by short name, as <c>estimate</c>, <c>generate --schedule</c> and pruning configs'
/// <c>"Schedule"</c> use them: absolute counts for 576 visual tokens and 32 layers, aliases of
/// <see cref="Llava15Schedules"/> and <see cref="Llava15AttentionBaselines"/> (the one place their numbers live).
/// </summary>
public static class Llava15Presets
{
    public static IReadOnlyList<SchedulePreset> All { get; } =
    [
        SchedulePreset.From("pio-11", Llava15Schedules.WithoutVe11),
        SchedulePreset.From("pio-22", Llava15Schedules.WithoutVe22),
        SchedulePreset.From("pio-33", Llava15Schedules.WithoutVe33),
        SchedulePreset.From("pio-ve-11", Llava15Schedules.WithVe11),
        SchedulePreset.From("pio-ve-22", Llava15Schedules.WithVe22),
        SchedulePreset.From("pio-ve-33", Llava15Schedules.WithVe33),
        .. new[] { 64, 128, 192 }.SelectMany(b => new[]
        {
            SchedulePreset.From($"fastv-{b}", Llava15AttentionBaselines.FastV(b)),
            SchedulePreset.From($"pdrop-{b}", Llava15AttentionBaselines.PDrop(b)),
        }),
        SchedulePreset.From("pdrop-official", Llava15AttentionBaselines.PDropOfficial),
    ];

    /// <summary>The preset called <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="KeyNotFoundException">No such preset; the message lists the names.</exception>
    public static SchedulePreset Get(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new KeyNotFoundException($"unknown schedule preset '{name}' for {Llava15Profile.Family} (known: {string.Join(", ", All.Select(p => p.Name))})");
}
