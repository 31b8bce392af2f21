using PioFvlm.Core.Generation;

namespace PioFvlm.Core.Pruning;

/// <summary>The visual tokens present after one pruning stage.</summary>
/// <param name="AfterLayer">The intra-LLM stage ran after this many decoder layers; null for the pre-LLM reducer.</param>
/// <param name="Original">For each visual token present after the stage, in sequence order: its index among the visual
/// tokens the vision tower produced (all images in prompt order, each in its own token order: row-major patches for
/// LLaVA-1.5), or −1 for a token that stands for no single one (merged, pooled or recycled).</param>
public sealed record KeptTokens(int? AfterLayer, long[] Original)
{
    public string Label => AfterLayer is int l ? $"L{l}" : "pre";
}

/// <summary>
/// Which original visual tokens survive each pruning stage of one generation, composed back to the tower's token
/// indices by <see cref="KeptVisualTokens.Compose"/> from the stage reports.
/// </summary>
/// <param name="VisualTokens">Visual tokens the tower produced (before any pre-LLM reduction).</param>
/// <param name="Stages">Pre-LLM first when one ran, then the intra-LLM stages in order (pass-throughs included).</param>
/// <param name="Complete">False when several images went through a pre-LLM reducer (the trace covers one image):
/// no stage is traced then.</param>
public sealed record KeptTokenTrace(long VisualTokens, IReadOnlyList<KeptTokens> Stages, bool Complete)
{
    /// <summary>The originals present at the last decoder layer (after the last stage; all when nothing pruned); null when
    /// the trace is not <see cref="Complete"/>.</summary>
    public long[]? AtLastLayer => !Complete ? null : Stages.Count == 0 ? PruningStageReport.AllOf(VisualTokens) : Stages[^1].Original;

    /// <summary>Traces <paramref name="stats"/>; throws (<see cref="ArgumentException"/>, naming the stage) when the reports
    /// do not chain, which would make any trace wrong.</summary>
    public static KeptTokenTrace Of(GenerationStats stats)
    {
        if (stats.PreLlm is { } pre && pre.KeptIndices.Count != 1) return new KeptTokenTrace(stats.VisualTokensBeforeReduction, [], Complete: false);
        long entering = stats.PreLlm is { } p ? p.KeptIndices[0].Length : stats.VisualTokensBeforeReduction;
        if (entering != stats.VisualTokensIn)
            throw new ArgumentException($"kept-token trace: {entering} visual tokens after the pre-LLM stage, but {stats.VisualTokensIn} entered the decoder", nameof(stats));
        return new KeptTokenTrace(stats.VisualTokensBeforeReduction, KeptVisualTokens.Compose(stats.VisualTokensBeforeReduction, stats.PreLlm, stats.Stages), Complete: true);
    }
}
