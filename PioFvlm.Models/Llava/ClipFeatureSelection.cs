namespace PioFvlm.Models.Llava;

/// <summary>Which tokens of a selected hidden state become image features.</summary>
public enum ClipFeatureStrategy
{
    /// <summary>HF "default" (research "patch"): drop the CLS token.</summary>
    Default,

    /// <summary>HF "full" (research "cls_patch"): keep CLS at position 0.</summary>
    Full,
}

/// <summary>
/// LLaVA's <c>vision_feature_layer</c> and <c>vision_feature_select_strategy</c>. Layers index HF's
/// <c>hidden_states</c> tuple, where entry 0 is the embeddings after <c>pre_layrnorm</c> and entry k the output of
/// encoder layer k − 1; negative values count from the end (−1 = last layer's output). Several layers are
/// concatenated along the channel axis, as HF does for a list.
/// </summary>
public sealed record ClipFeatureSelection(IReadOnlyList<int> Layers, ClipFeatureStrategy Strategy = ClipFeatureStrategy.Default)
{
    /// <summary>LLaVA-1.5/NeXT: hidden_states[−2], CLS dropped.</summary>
    public static ClipFeatureSelection LlavaDefault { get; } = new([-2]);

    public ClipFeatureSelection(int layer, ClipFeatureStrategy strategy = ClipFeatureStrategy.Default) : this([layer], strategy) { }
}
