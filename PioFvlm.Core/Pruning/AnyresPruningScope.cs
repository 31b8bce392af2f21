namespace PioFvlm.Core.Pruning;

/// <summary>
/// Which of an anyres (LLaVA-NeXT) image's tokens pruning may touch (spec pio-fvlm.md §5.3). A pruning config names
/// it as <c>"Scope"</c> (<see cref="PruningPlan.Scope"/>); families without a base view refuse
/// <see cref="BaseViewOnly"/> (<see cref="Models.ModelProfile.HasAnyresBaseView"/>).
/// </summary>
public enum AnyresPruningScope
{
    /// <summary>Default: the whole visual block (base view and every tile) is prunable.</summary>
    WholeImage,

    /// <summary>Reference-compatible: only the base view's g² tokens are visual tokens; the tile tokens and their
    /// newlines are treated as text (never scored, never pruned, not counted as visual), as the reference's
    /// layer_prune does with its first visual_token_num tokens. Only for reproducing the reference's numbers.</summary>
    BaseViewOnly,
}

/// <summary>The one refusal of <see cref="AnyresPruningScope.BaseViewOnly"/> by families without a base view.</summary>
public static class AnyresPruningScopes
{
    /// <exception cref="NotSupportedException"><paramref name="scope"/> is BaseViewOnly and the family has no base view.</exception>
    public static void CheckSupported(AnyresPruningScope? scope, Models.ModelProfile profile, string where = "")
    {
        if (scope == AnyresPruningScope.BaseViewOnly && !profile.HasAnyresBaseView)
            throw new NotSupportedException(
                $"{where}Scope 'BaseViewOnly' restricts pruning to the base view of an anyres (LLaVA-NeXT) image; {profile.Family} images have " +
                "no base view. Leave Scope out (or give WholeImage) for this model");
    }
}
