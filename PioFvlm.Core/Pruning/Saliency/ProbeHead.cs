namespace PioFvlm.Core.Pruning.Saliency;

/// <summary>The output head of the saliency probe (spec pio-fvlm.md §2.1 step 3, §8).</summary>
public enum ProbeHead
{
    /// <summary>Final norm, then the model's LM head: the layer-r "logit lens" of the LLaVA reference.</summary>
    FinalNormLmHead,

    /// <summary>Final norm, then the input embedding matrix as the head: the Qwen reference's fallback (its text
    /// decoder has no lm_head); differs from the LM head when embeddings are untied.</summary>
    InputEmbeddings,
}
