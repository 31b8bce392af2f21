namespace PioFvlm.Models.LlavaNext;

/// <summary>
/// Whose anyres arithmetic to follow where HF and the research code differ (spec llava.md §5.6). The pinpoint
/// orientation is not part of it: the config parser already reads HF pinpoints as (h, w) and research ones as (w, h),
/// so each layout's list order (which decides ties) is kept.
/// </summary>
public enum AnyresVariant
{
    /// <summary>HF LlavaNextImageProcessor / pack_image_features: unpadded size int(round(x, 7)).</summary>
    Hf,

    /// <summary>Research LLaVA-1.6 (unpad_image): unpadded size int(x), which can be one row or column smaller.</summary>
    Research,
}
