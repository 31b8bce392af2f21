using PioFvlm.Core.IO.Loading;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// Checkpoint-to-module key conversion for Qwen2.5-VL (spec A2). Accepts the Hub layout (<c>visual.*</c>,
/// <c>model.*</c>, <c>lm_head.weight</c>, what transformers 4.5x and 5.x write back) and the module-tree layout of
/// transformers ≥ 4.52 (<c>model.visual.*</c>, <c>model.language_model.*</c>), with an optional <c>module.</c> prefix.
/// The first matching rule wins, so the tree names come before the plain <c>model.</c> rule.
/// </summary>
public static class Qwen25VlKeyMaps
{
    public static KeyMap Hf { get; } = KeyMap.Identity
        .Ignore(@"\.rotary_emb\.inv_freq$")
        .Rename(@"^(?:module\.)?(?:model\.)?visual\.", "visual.")
        .Rename(@"^(?:module\.)?model\.language_model\.", "language_model.model.")
        .Rename(@"^(?:module\.)?model\.", "language_model.model.")
        .Rename(@"^(?:module\.)?lm_head\.", "language_model.lm_head.");
}
