namespace PioFvlm.Core.Generation;

/// <summary>How position ids behave after visual tokens are dropped inside the decoder.</summary>
public enum PositionPolicy
{
    /// <summary>
    /// Re-index the pruned sequence 0..S'-1 (reference LLaVA, PDrop). In decode each layer's new token takes the
    /// position equal to that layer's cache length, so layers before a pruning point and after it differ.
    /// </summary>
    Compact,

    /// <summary>Kept tokens keep their original ids, gaps remain (reference Qwen, llmc FastV); decode continues
    /// after the largest original position.</summary>
    KeepOriginal,
}
