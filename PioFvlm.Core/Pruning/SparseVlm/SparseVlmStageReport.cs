namespace PioFvlm.Core.Pruning.SparseVlm;

/// <summary>What one SparseVLM stage did during a prefill. Times in milliseconds, wall clock.</summary>
public sealed record SparseVlmStageReport
{
    /// <summary>The pruning layer (0-based) whose attention scored the tokens and whose output was cut; AfterLayer − 1.</summary>
    public required int Layer { get; init; }
    public required int AfterLayer { get; init; }
    public required int VisualBefore { get; init; }
    /// <summary>Kept indices into the visual tokens entering the stage (one pool in sequence order), ascending.</summary>
    public required IReadOnlyList<long> KeptLocalIndices { get; init; }
    /// <summary>Merged tokens appended after the kept visual tokens.</summary>
    public required int Recycled { get; init; }
    /// <summary>Per recycled token (in order), the local indices of the dropped tokens it averages, ascending.</summary>
    public IReadOnlyList<IReadOnlyList<long>> RecycledMembers { get; init; } = [];
    /// <summary>Visual tokens after the stage: kept + recycled.</summary>
    public int VisualAfter => KeptLocalIndices.Count + Recycled;
    /// <summary>Text rows whose attention scored the visual tokens.</summary>
    public required int Raters { get; init; }
    public double ScoreMs { get; init; }
    public double SurgeryMs { get; init; }
}
