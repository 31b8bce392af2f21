namespace PioFvlm.Core.Pruning.Efficiency;

/// <summary>
/// A named pruning recipe of one model family (its profile lists them): an optional pre-LLM (vision-encoder)
/// reduction to an absolute count or a fraction of the image's count, then intra-LLM stages.
/// </summary>
public sealed record SchedulePreset(string Name, string Description, int? PreLlmKeep, double? PreLlmRatio, IReadOnlyList<PruningStage> Stages)
{
    /// <summary>The pre-LLM budget as one value; null when the encoder keeps everything. Both set is refused.</summary>
    public TokenBudget? PreLlm => (PreLlmKeep, PreLlmRatio) switch
    {
        (int k, null) => TokenBudget.Keep(k),
        (null, double r) => TokenBudget.Ratio(r),
        (null, null) => null,
        _ => throw new InvalidOperationException($"schedule preset '{Name}' sets both PreLlmKeep ({PreLlmKeep}) and PreLlmRatio ({PreLlmRatio}); give one"),
    };

    /// <summary>Visual tokens entering the LLM when the encoder produced <paramref name="visual"/>.</summary>
    public long VisualEnteringLlm(long visual) => PreLlm?.Resolve(visual) ?? visual;

    /// <summary>As a <see cref="PruningSchedule"/>; a pre-LLM ratio becomes a ratio budget resolved per image.</summary>
    public PruningSchedule ToSchedule() => new() { Name = Name, Stages = Stages, PreLlmKeep = PreLlm, Note = Description };

    /// <summary>A preset called <paramref name="name"/> running <paramref name="schedule"/>, its description saying
    /// where the numbers come from.</summary>
    public static SchedulePreset From(string name, PruningSchedule schedule) =>
        new(name, $"{schedule.Name}{(schedule.IsReference ? " (reference)" : " (ours)")}: {schedule.Note}",
            schedule.PreLlmKeep?.Count, schedule.PreLlmKeep?.Fraction, schedule.Stages);
}
