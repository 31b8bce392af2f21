namespace PioFvlm.Core.Pruning;

/// <summary>What a stage's <see cref="PruningStage.Ratio"/> is a fraction of.</summary>
public enum RatioBase
{
    /// <summary>The visual count entering this stage (reference PIO-FVLM on Qwen: cumulative).</summary>
    Current,
    /// <summary>The visual count that entered the LLM.</summary>
    Original,
}

/// <summary>
/// One intra-LLM stage: after <see cref="AfterLayer"/> = r decoder layers have run (1-based; valid 1..L-1), keep
/// <see cref="Keep"/> visual tokens (absolute), or <see cref="Ratio"/> of the base count. Keep = 0 removes all visual
/// tokens; a keep at or above the current count prunes nothing.
/// </summary>
public sealed record PruningStage
{
    public required int AfterLayer { get; init; }
    public int? Keep { get; init; }
    public double? Ratio { get; init; }
    public RatioBase RatioOf { get; init; } = RatioBase.Current;

    /// <summary>The absolute budget for a stage that sees <paramref name="current"/> tokens out of
    /// <paramref name="original"/>; never more than <paramref name="current"/>.</summary>
    public int Budget(int current, int original)
    {
        int target = Keep ?? (int)TokenBudget.FloorOf(Ratio ?? throw new InvalidOperationException(
            $"pruning stage after layer {AfterLayer} has neither Keep nor Ratio"), RatioOf == RatioBase.Current ? current : original);
        return Math.Clamp(target, 0, current);
    }

    /// <summary>Throws naming the stage when its values are out of range for a decoder of <paramref name="layers"/>.</summary>
    public void Validate(int layers)
    {
        if (AfterLayer < 1 || AfterLayer > layers - 1)
            throw new ArgumentException($"pruning stage AfterLayer = {AfterLayer} is outside 1..{layers - 1} for a {layers}-layer decoder");
        if (Keep.HasValue == Ratio.HasValue)
            throw new ArgumentException($"pruning stage after layer {AfterLayer}: set exactly one of Keep and Ratio");
        if (Keep < 0) throw new ArgumentException($"pruning stage after layer {AfterLayer}: Keep = {Keep} is negative");
        if (Ratio is < 0 or > 1) throw new ArgumentException($"pruning stage after layer {AfterLayer}: Ratio = {Ratio} is outside [0, 1]");
    }
}
