namespace PioFvlm.Core.Pruning.SparseVlm;

/// <summary>
/// What one SparseVLM stage did during a prefill: the common report (<see cref="PruningStageReport.KeptLocalIndices"/>
/// are the kept original tokens; <see cref="PruningStageReport.VisualAfter"/> = kept + <see cref="Recycled"/>) plus
/// the raters and the recycling. Times in milliseconds, wall clock.
/// </summary>
public sealed record SparseVlmStageReport : PruningStageReport
{
    /// <summary>The pruning layer (0-based) whose attention scored the tokens and whose output was cut; AfterLayer − 1.</summary>
    public required int Layer { get; init; }
    /// <summary>Merged tokens appended after the kept visual tokens.</summary>
    public required int Recycled { get; init; }
    /// <summary>Per recycled token (in order), the local indices of the dropped tokens it averages, ascending.</summary>
    public IReadOnlyList<IReadOnlyList<long>> RecycledMembers { get; init; } = [];
    /// <summary>Text rows whose attention scored the visual tokens.</summary>
    public int Raters => RaterPositions.Count;
    /// <summary>Sequence indices, in the decoder input, of the text raters this prefill chose from its embeddings, ascending.</summary>
    public required IReadOnlyList<long> RaterPositions { get; init; }
}
