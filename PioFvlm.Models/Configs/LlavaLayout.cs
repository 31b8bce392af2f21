namespace PioFvlm.Models.Configs;

/// <summary>Which config.json layout a LLaVA checkpoint came with.</summary>
public enum LlavaLayout
{
    /// <summary>llava-hf repos: <c>LlavaForConditionalGeneration</c> / <c>LlavaNextForConditionalGeneration</c>
    /// with nested <c>text_config</c> and <c>vision_config</c>.</summary>
    Hf,

    /// <summary>haotian-liu/LLaVA repos: a flat LlamaConfig plus <c>mm_*</c> keys; the CLIP tower's config lives
    /// in a separate checkpoint named by <c>mm_vision_tower</c>.</summary>
    Research,
}
