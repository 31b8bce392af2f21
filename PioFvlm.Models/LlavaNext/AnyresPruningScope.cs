namespace PioFvlm.Models.LlavaNext;

/// <summary>Which of a LLaVA-NeXT image's tokens pruning may touch (spec pio-fvlm.md §5.3).</summary>
public enum AnyresPruningScope
{
    /// <summary>Default: the whole visual block (base view and every tile) is prunable.</summary>
    WholeImage,

    /// <summary>Reference-compatible: only the base view's g² tokens are visual tokens; the tile tokens and their
    /// newlines are treated as text (never scored, never pruned, not counted as visual), as the reference's
    /// layer_prune does with its first visual_token_num tokens. Only for reproducing the reference's numbers.</summary>
    BaseViewOnly,
}
