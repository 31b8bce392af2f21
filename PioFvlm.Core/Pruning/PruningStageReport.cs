namespace PioFvlm.Core.Pruning;

/// <summary>
/// What one intra-LLM stage did during a prefill. Times in milliseconds, wall clock. Methods that report more derive
/// from it (<see cref="SparseVlm.SparseVlmStageReport"/>, <see cref="Dart.DartStageReport"/>); every report of a
/// prefill is in <see cref="Generation.PrefillResult.Stages"/>.
/// </summary>
public record PruningStageReport
{
    /// <summary>The stage ran after this many decoder layers.</summary>
    public required int AfterLayer { get; init; }
    /// <summary>Visual tokens entering the stage.</summary>
    public required long VisualBefore { get; init; }
    /// <summary>Visual tokens leaving the stage (kept plus any merged tokens a method adds).</summary>
    public required long VisualAfter { get; init; }
    /// <summary>False when the budget was at or above the visual count (or there was no image): the state passed through.</summary>
    public required bool Pruned { get; init; }
    /// <summary>Kept indices into the visual tokens entering this stage (all spans as one pool, in sequence order), ascending.</summary>
    public required IReadOnlyList<long> KeptLocalIndices { get; init; }
    public double ScoreMs { get; init; }
    public double SelectMs { get; init; }
    /// <summary>Gathering the kept rows, positions, token ids and spans.</summary>
    public double SurgeryMs { get; init; }
    /// <summary>The scorer's output was unusable (NaN, ±inf or all zero) and the fallback order was used instead.</summary>
    public bool FallbackUsed { get; init; }
    /// <summary>Why the fallback was used; null when it was not.</summary>
    public string? Warning { get; init; }

    /// <summary>The report of a stage that kept all <paramref name="visual"/> tokens.</summary>
    public static PruningStageReport PassThrough(int afterLayer, long visual) => new()
    {
        AfterLayer = afterLayer, VisualBefore = visual, VisualAfter = visual, Pruned = false, KeptLocalIndices = AllOf(visual),
    };

    /// <summary>0, 1, …, <paramref name="count"/> − 1: every local index kept.</summary>
    public static long[] AllOf(long count)
    {
        var all = new long[count];
        for (long i = 0; i < count; i++) all[i] = i;
        return all;
    }
}
