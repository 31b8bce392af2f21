namespace PioFvlm.Core.Pruning;

/// <summary>
/// A named pruning plan: an optional pre-LLM budget (visual tokens kept per image before the decoder, a count or a
/// ratio; the pre-LLM insertion point resolves it per image) and the intra-LLM stages in ascending
/// <see cref="PruningStage.AfterLayer"/> order.
/// </summary>
public sealed record PruningSchedule
{
    public required string Name { get; init; }

    /// <summary>Intra-LLM stages, strictly ascending by AfterLayer.</summary>
    public IReadOnlyList<PruningStage> Stages { get; init; } = [];

    /// <summary>Visual tokens kept per image before the decoder ("w/ VE"), a count or a ratio of the image's own
    /// count; null = all of them ("w/o VE"). An <c>int</c> converts to an absolute budget.</summary>
    public TokenBudget? PreLlmKeep { get; init; }

    /// <summary>True for a configuration found in the reference code (TRIO repository); false for ours (spec §5.2:
    /// the 33.3 % settings are absent from the reference, and so are the w/ VE 22.2 % ones).</summary>
    public bool IsReference { get; init; }

    /// <summary>Where the numbers come from, for reports.</summary>
    public string Note { get; init; } = "";

    /// <summary>Checks that need no decoder: stage order, one of Keep/Ratio, non-negative budgets (a
    /// <see cref="TokenBudget"/> is checked when it is made).</summary>
    public void ValidateShape()
    {
        for (int s = 0; s < Stages.Count; s++)
        {
            var stage = Stages[s];
            if (stage.AfterLayer < 1)
                throw new ArgumentException($"pruning schedule '{Name}', stage {s}: AfterLayer = {stage.AfterLayer} must be at least 1");
            if (s > 0 && stage.AfterLayer <= Stages[s - 1].AfterLayer)
                throw new ArgumentException($"pruning schedule '{Name}', stage {s}: AfterLayer = {stage.AfterLayer} does not follow " +
                                            $"stage {s - 1} (AfterLayer = {Stages[s - 1].AfterLayer}); stages must be strictly ascending");
            stage.Validate(int.MaxValue);
            int? previousKeep = s > 0 ? Stages[s - 1].Keep : PreLlmKeep?.Count;
            if (stage.Keep is int keep && previousKeep is int earlier && keep > earlier)
                throw new ArgumentException($"pruning schedule '{Name}', stage {s}: Keep = {keep} after layer {stage.AfterLayer} is more " +
                                            $"than the {earlier} kept before it; budgets must not increase");
        }
    }

    /// <summary>Throws naming the schedule and stage when any value is out of range for a <paramref name="layers"/>-layer decoder.</summary>
    public void Validate(int layers)
    {
        ValidateShape();
        foreach (var stage in Stages)
        {
            try { stage.Validate(layers); }
            catch (ArgumentException e) { throw new ArgumentException($"pruning schedule '{Name}': {e.Message}", e); }
        }
    }

    /// <summary>
    /// Visual tokens seen by each of the <paramref name="layers"/> decoder layers when the vision encoder yields
    /// <paramref name="initialCount"/> (per image, for the pre-LLM budget) and every stage's budget is applied as the
    /// pruner applies it.
    /// </summary>
    public int[] VisualTokensPerLayer(int layers, int initialCount)
    {
        Validate(layers);
        ArgumentOutOfRangeException.ThrowIfNegative(initialCount);
        int entering = PreLlmKeep?.Resolve(initialCount) ?? initialCount;
        int current = entering;
        var perLayer = new int[layers];
        int from = 0;
        foreach (var stage in Stages)
        {
            Array.Fill(perLayer, current, from, stage.AfterLayer - from);
            from = stage.AfterLayer;
            current = stage.Budget(current, entering);
        }
        Array.Fill(perLayer, current, from, layers - from);
        return perLayer;
    }

    /// <summary>The paper's per-layer average: Σ_s (r_{s+1} − r_s) · k_s / L (spec §5.1).</summary>
    public double AverageVisualTokens(int layers, int initialCount) =>
        VisualTokensPerLayer(layers, initialCount).Sum(n => (long)n) / (double)layers;
}
