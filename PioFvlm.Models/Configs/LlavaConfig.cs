namespace PioFvlm.Models.Configs;

/// <summary>LLaVA-1.5: HF <c>LlavaForConditionalGeneration</c> (model_type "llava") or research
/// <c>LlavaLlamaForCausalLM</c> with <c>image_aspect_ratio</c> "pad".</summary>
public sealed record LlavaConfig : LlavaFamilyConfig
{
    public override VlmFamily Family => VlmFamily.Llava;
}
