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
/// Which original visual tokens survive each pruning stage of one generation: the stage reports' kept indices
/// (<see cref="PreLlmStageReport.KeptIndices"/>, <see cref="PruningStageReport.KeptLocalIndices"/>) composed back to
/// the tower's token indices. Every intra-LLM report indexes the visual tokens entering its own stage, so stage k's
/// originals are <c>previous[kept[i]]</c>.
/// </summary>
/// <param name="VisualTokens">Visual tokens the tower produced (before any pre-LLM reduction).</param>
/// <param name="Stages">Pre-LLM first when one ran, then the intra-LLM stages in order (pass-throughs included).</param>
/// <param name="Complete">False when a stage added tokens whose place in the sequence its report does not give
/// (SparseVLM's recycled tokens) or several images went through a pre-LLM reducer: the stages after that point
/// cannot be traced and are left out.</param>
public sealed record KeptTokenTrace(long VisualTokens, IReadOnlyList<KeptTokens> Stages, bool Complete)
{
    /// <summary>The originals present at the last decoder layer (after the last stage; all when nothing pruned); null when
    /// the trace is not <see cref="Complete"/>.</summary>
    public long[]? AtLastLayer => !Complete ? null : Stages.Count == 0 ? PruningStageReport.AllOf(VisualTokens) : Stages[^1].Original;

    /// <summary>Traces <paramref name="stats"/>; throws when the reports do not chain (a stage entered with another count
    /// than the one before it left), which would make any trace wrong.</summary>
    public static KeptTokenTrace Of(GenerationStats stats)
    {
        var stages = new List<KeptTokens>();
        long[] current = PruningStageReport.AllOf(stats.VisualTokensBeforeReduction);
        if (stats.PreLlm is { } pre)
        {
            if (pre.KeptIndices.Count != 1) return new KeptTokenTrace(stats.VisualTokensBeforeReduction, stages, Complete: false);
            current = [.. pre.KeptIndices[0]];
            stages.Add(new KeptTokens(null, current));
        }
        if (current.Length != stats.VisualTokensIn)
            throw new InvalidOperationException($"kept-token trace: {current.Length} visual tokens after the pre-LLM stage, but {stats.VisualTokensIn} entered the decoder");
        for (int s = 0; s < stats.Stages.Count; s++)
        {
            var report = stats.Stages[s];
            if (report.VisualBefore != current.Length)
                throw new InvalidOperationException($"kept-token trace: the stage after layer {report.AfterLayer} saw {report.VisualBefore} visual tokens, " +
                                                    $"but {current.Length} left the stage before it");
            var next = new long[report.VisualAfter];
            Array.Fill(next, -1L);
            for (int i = 0; i < report.KeptLocalIndices.Count; i++)
            {
                long local = report.KeptLocalIndices[i];
                if (local < 0 || local >= current.Length)
                    throw new InvalidOperationException($"kept-token trace: the stage after layer {report.AfterLayer} kept local index {local} of {current.Length}");
                next[i] = current[local];
            }
            stages.Add(new KeptTokens(report.AfterLayer, next));
            current = next;
            // Tokens added beyond the kept ones (recycled) sit somewhere the report does not say: later local indices
            // cannot be mapped.
            if (report.VisualAfter != report.KeptLocalIndices.Count && s < stats.Stages.Count - 1)
                return new KeptTokenTrace(stats.VisualTokensBeforeReduction, stages, Complete: false);
        }
        return new KeptTokenTrace(stats.VisualTokensBeforeReduction, stages, Complete: true);
    }
}
