using PioFvlm.Core.IO.Loading;

namespace PioFvlm.Models.Llava;

/// <summary>
/// Checkpoint-to-module key conversions for LLaVA. The module uses the HF legacy on-disk names
/// (<c>language_model.model.*</c>, <c>language_model.lm_head.*</c>, <c>vision_tower.*</c>, <c>multi_modal_projector.*</c>);
/// see llava.md §3.3 (modern names) and §3.4 (research names).
/// </summary>
public static class LlavaKeyMaps
{
    /// <summary>Buffers some exporters write that the model recomputes.</summary>
    static KeyMap IgnoreRecomputed(KeyMap map) => map
        .Ignore(@"\.rotary_emb\.inv_freq$")
        .Ignore(@"(^|\.)position_ids$");

    /// <summary>
    /// Accepts both HF spellings: legacy names pass unchanged, modern (transformers ≥ 4.52 / v5) names are mapped.
    /// transformers ≥ 5.6 also drops the CLIP <c>vision_model</c> level when saving (<c>vision_tower.embeddings.*</c>,
    /// <c>model.vision_tower.encoder.*</c>, ...); that rule comes first because the first matching rule wins.
    /// </summary>
    public static KeyMap Hf { get; } = IgnoreRecomputed(KeyMap.Identity
        .Rename(@"^(?:model\.)?vision_tower\.(embeddings|encoder|pre_layrnorm|post_layernorm)\.", "vision_tower.vision_model.$1.")
        .RenamePrefix("model.language_model.", "language_model.model.")
        .RenamePrefix("model.vision_tower.", "vision_tower.")
        .RenamePrefix("model.multi_modal_projector.", "multi_modal_projector.")
        .Rename(@"^model\.image_newline$", "image_newline")
        .Rename("^lm_head\\.", "language_model.lm_head."));

    /// <summary>The research LlavaLlamaForCausalLM / LlavaMistralForCausalLM layout (liuhaotian/llava-v1.5-7b,
    /// llava-v1.6-*: <c>model.image_newline</c> too).</summary>
    public static KeyMap Research { get; } = IgnoreRecomputed(KeyMap.Identity
        .Rename(@"^model\.image_newline$", "image_newline")
        .RenamePrefix("model.mm_projector.0.", "multi_modal_projector.linear_1.")
        .RenamePrefix("model.mm_projector.2.", "multi_modal_projector.linear_2.")
        .RenamePrefix("model.vision_tower.vision_tower.", "vision_tower.")
        .RenamePrefix("model.", "language_model.model.")
        .Rename("^lm_head\\.", "language_model.lm_head."));

    /// <summary>A separate CLIP checkpoint (openai/clip-vit-large-patch14-336): keep the vision model only.</summary>
    public static KeyMap ClipTower { get; } = IgnoreRecomputed(KeyMap.Identity
        .Ignore("^text_model\\.")
        .Ignore("^(visual_projection|text_projection)\\.")
        .Ignore("^logit_scale$")
        .RenamePrefix("vision_model.", "vision_tower.vision_model."));
}
