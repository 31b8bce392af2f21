using PioFvlm.Core.Generation;
using PioFvlm.Core.Models;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning.Saliency;

namespace PioFvlm.Models.Llava;

/// <summary>LLaVA-1.5's family profile: every image becomes the same grid of CLIP patches (resize + centre crop or
/// pad to square), positions are re-indexed after pruning (reference), PIO probes the next layer.</summary>
public static class Llava15Profile
{
    public const string Family = "llava-1.5";

    /// <summary>Visual tokens of LLaVA-1.5-7B/13B: CLIP ViT-L/14 at 336 px, 24 × 24 patches, CLS dropped.</summary>
    public const int ReferenceVisualTokens = 576;

    /// <summary>Vicuna-7B v1.5, the decoder of LLaVA-1.5-7B and llava-v1.6-vicuna-7b (spec llava.md §2; vocab 32,064
    /// as the checkpoints pad it).</summary>
    public static DecoderDims Vicuna7B { get; } = new(HiddenSize: 4096, NumHeads: 32, NumKvHeads: 32, HeadDim: 128,
        IntermediateSize: 11008, NumLayers: 32, RmsNormEps: 1e-5, RopeTheta: 10000, VocabSize: 32064, MaxPositions: 4096,
        TieWordEmbeddings: false, AttentionBias: false);

    /// <summary>LLaVA-1.5-7B without a checkpoint (estimates, the benchmark rig).</summary>
    public static ModelProfile Reference7B { get; } = Create(Vicuna7B, ReferenceVisualTokens,
        "LLaVA-1.5-7B (Vicuna-7B), 576 visual tokens");

    /// <summary>The profile of a loaded or parsed checkpoint.</summary>
    public static ModelProfile For(LlavaArchitecture architecture) => Create(architecture.Text, architecture.TokensPerImage,
        $"LLaVA-1.5 ({architecture.Text.NumLayers} decoder layers, {architecture.TokensPerImage} visual tokens per image)");

    static ModelProfile Create(DecoderDims text, int tokensPerImage, string description) => new()
    {
        Family = Family,
        Description = description,
        Text = text,
        VisualTokensForImage = (_, _) => tokensPerImage,
        NominalVisualTokens = tokensPerImage,
        Presets = Llava15Presets.All,
        DefaultPositions = PositionPolicy.Compact,
        Saliency = GradientSaliencyOptions.Llava,
        ImagePlaceholder = LlavaPromptFormat.ImagePlaceholder,
        VisionHasCls = true,
    };
}
