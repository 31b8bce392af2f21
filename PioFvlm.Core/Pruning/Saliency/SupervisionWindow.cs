namespace PioFvlm.Core.Pruning.Saliency;

/// <summary>Which prompt positions the proxy loss supervises (spec pio-fvlm.md §2.2, §13 item 2).</summary>
public enum SupervisionWindow
{
    /// <summary>The reference: the WindowSize positions ending at S−2 (S−5..S−2 for 4). The teacher-forcing shift drops
    /// the last prompt position, so the token that predicts the answer is never supervised.</summary>
    Reference,

    /// <summary>The WindowSize positions ending at S−1 (S−4..S−1 for 4): the last prompt token included.</summary>
    IncludeLastToken,
}
