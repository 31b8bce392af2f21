using PioFvlm.Core.Generation;
using PioFvlm.Core.Models;
using PioFvlm.Core.Pruning.Efficiency;
using PioFvlm.Core.Pruning.Saliency;

namespace PioFvlm.Models.Llava;

/// <summary>LLaVA-1.5's family profile: every image becomes the same grid of CLIP patches (resize + centre crop or
/// pad to square), positions are re-indexed after pruning (reference), PIO probes the next layer.</summary>
public static class Llava15Profile
{
    public const string Family = "llava-1.5";

    public static ModelProfile For(LlavaArchitecture architecture) => new()
    {
        Family = Family,
        Description = $"LLaVA-1.5 ({architecture.Text.NumLayers} decoder layers, {architecture.TokensPerImage} visual tokens per image)",
        Text = architecture.Text,
        VisualTokensForImage = (_, _) => architecture.TokensPerImage,
        NominalVisualTokens = architecture.TokensPerImage,
        Presets = SchedulePresets.All.Where(p => !p.Name.StartsWith("qwen", StringComparison.Ordinal)).ToList(),
        DefaultPositions = PositionPolicy.Compact,
        Saliency = GradientSaliencyOptions.Llava,
        ImagePlaceholder = LlavaPromptFormat.ImagePlaceholder,
        VisionHasCls = true,
    };
}
