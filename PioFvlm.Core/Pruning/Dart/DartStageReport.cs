namespace PioFvlm.Core.Pruning.Dart;

/// <summary>What DART's stage did during a prefill: the common report plus the pivots and per-pivot picks.</summary>
public sealed record DartStageReport : PruningStageReport
{
    /// <summary>Pivots and picks; null when the stage pruned nothing (the budget covered every visual token).</summary>
    public DartSelection? Selection { get; init; }
}
