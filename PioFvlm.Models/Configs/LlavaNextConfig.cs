namespace PioFvlm.Models.Configs;

/// <summary>LLaVA-NeXT (1.6): HF <c>LlavaNextForConditionalGeneration</c> (model_type "llava_next") or research
/// <c>LlavaLlamaForCausalLM</c>/<c>LlavaMistralForCausalLM</c> with <c>image_aspect_ratio</c> "anyres".</summary>
public sealed record LlavaNextConfig : LlavaFamilyConfig
{
    public override VlmFamily Family => VlmFamily.LlavaNext;

    /// <summary>HF LlavaNextConfig's default candidate list (symmetric, so identical in either orientation).</summary>
    public static IReadOnlyList<ImageResolution> DefaultGridPinpoints { get; } =
    [
        new(336, 672), new(672, 336), new(672, 672), new(1008, 336), new(336, 1008),
    ];

    /// <summary>Anyres candidates as (Height, Width), normalised from either layout.</summary>
    public required IReadOnlyList<ImageResolution> ImageGridPinpoints { get; init; }

    /// <summary>HF always unpads and appends <c>image_newline</c> ("spatial_unpad"); research writes
    /// <c>mm_patch_merge_type</c>.</summary>
    public required string PatchMergeType { get; init; }
}
