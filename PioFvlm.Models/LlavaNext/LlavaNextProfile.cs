using PioFvlm.Core.Generation;
using PioFvlm.Core.Models;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Attention;
using PioFvlm.Core.Pruning.Efficiency;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;

namespace PioFvlm.Models.LlavaNext;

/// <summary>
/// LLaVA-NeXT's (1.6) family profile, estimate-level until the model is implemented: anyres token arithmetic
/// (<see cref="AnyresLayout"/>), the LLaVA decoder conventions (Compact positions, PIO probes the next layer), and
/// presets that are fractions of the image's actual visual count (spec pio-fvlm.md §5.3: the reference's absolute
/// budgets only ever touched the 576 base tokens).
/// </summary>
public static class LlavaNextProfile
{
    public const string Family = "llava-next";

    /// <summary>The count the paper quotes: 5 × 576 (base + 4 tiles, without the newline tokens; a square image
    /// really gives 2,928).</summary>
    public const int NominalVisualTokens = 2880;

    /// <summary>Mistral-7B-Instruct-v0.2, the decoder of llava-v1.6-mistral-7b (m 14,336, 8 KV heads).</summary>
    public static DecoderDims Mistral7B { get; } = Llava15Profile.Vicuna7B with
    {
        NumKvHeads = 8, IntermediateSize = 14336, RopeTheta = 1e6, MaxPositions = 32768,
    };

    /// <summary>llava-v1.6-vicuna-7b, the paper's NeXT efficiency row (its 16.67 T and 1156 MB only come out with
    /// Vicuna's m = 11008 and 32 KV heads).</summary>
    public static ModelProfile Vicuna7B { get; } = Create(Llava15Profile.Vicuna7B, LlavaNextConfig.DefaultGridPinpoints, 336, 14,
        "LLaVA-NeXT-7B (llava-v1.6-vicuna-7b, as in the paper's table), 2880 nominal visual tokens");

    public static ModelProfile Mistral7BProfile { get; } = Create(Mistral7B, LlavaNextConfig.DefaultGridPinpoints, 336, 14,
        "LLaVA-NeXT-7B (llava-v1.6-mistral-7b: m 14336, 8 KV heads), 2880 nominal visual tokens");

    /// <summary>The profile of a parsed config (pinpoints, crop and patch size from it; CLIP-L/14-336 when the
    /// research config names its tower only).</summary>
    public static ModelProfile For(LlavaNextConfig config)
    {
        var vision = config.Vision ?? ClipVisionConfig.ClipVitLargePatch14_336;
        return Create(config.Text.ToDecoderDims(config.TieWordEmbeddings), config.ImageGridPinpoints, vision.ImageSize, vision.PatchSize,
            $"LLaVA-NeXT ({config.Text.NumHiddenLayers} decoder layers, anyres over {config.ImageGridPinpoints.Count} pinpoints) from {config.SourcePath}");
    }

    static ModelProfile Create(DecoderDims text, IReadOnlyList<ImageResolution> pinpoints, int cropSize, int patchSize, string description) => new()
    {
        Family = Family,
        Description = description,
        Text = text,
        VisualTokensForImage = (w, h) => AnyresLayout.For(w, h, pinpoints, cropSize, patchSize).Tokens,
        NominalVisualTokens = NominalVisualTokens,
        Presets = Presets(text.NumLayers),
        DefaultPositions = PositionPolicy.Compact,
        Saliency = GradientSaliencyOptions.Llava,
        ImagePlaceholder = LlavaPromptFormat.ImagePlaceholder,
        VisionHasCls = true,
        HasAnyresBaseView = true,
    };

    /// <summary>
    /// PIO-FVLM at 11.1 / 22.2 / 33.3 %: the LLaVA-1.5 schedules' layers [1, 10, 15] with their budgets as fractions
    /// of the original count (92/576 ...), so the average retention is the same for any image; the w/ VE ones keep
    /// 1/6, 2/6, 3/6 before the LLM and a third of that after layer 16; the reference's bench schedule by name; FastV
    /// and PDrop as fractions of the original count at the LLaVA-1.5 layers.
    /// </summary>
    static IReadOnlyList<SchedulePreset> Presets(int layers)
    {
        const double N = Llava15Profile.ReferenceVisualTokens;
        static PruningStage Of(int afterLayer, double fraction) => new() { AfterLayer = afterLayer, Ratio = fraction, RatioOf = RatioBase.Original };
        SchedulePreset Pio(string name, string percent, int a, int b, int c) => new(name,
            $"ours: {percent} % of the image's visual tokens on average, LLaVA-1.5's layers [1,10,15] keeping [{a},{b},{c}]/576 of them",
            null, null, [Of(1, a / N), Of(10, b / N), Of(15, c / N)]);
        SchedulePreset PioVe(string name, string percent, int sixths) => new(name,
            $"ours: {percent} % on average; the encoder stage keeps {sixths}/6 of each image's tokens, a third of those after layer 16 (LLaVA-1.5's pio-ve shape)",
            null, sixths / 6.0, [new PruningStage { AfterLayer = 16, Ratio = 1 / 3.0, RatioOf = RatioBase.Current }]);
        // FastV's average retention is reachable only when the K full layers cost less than it (tiny test decoders:
        // no fastv-* presets).
        SchedulePreset? FastV(int percent, double retention)
        {
            int k = Llava15AttentionBaselines.FastVLayer;
            if (k >= layers || layers * retention < k) return null;
            double ratio = FastVBudget.RatioFor(retention, Llava15AttentionBaselines.FastVLayer, layers);
            return new($"fastv-{percent}", $"FastV K = 2 keeping {ratio:0.####} of the original count: {percent} % on average over {layers} layers",
                null, null, [Of(Llava15AttentionBaselines.FastVLayer, ratio)]);
        }
        SchedulePreset PDrop(int percent, int budget)
        {
            var reference = Llava15AttentionBaselines.PDrop(budget);
            return new($"pdrop-{percent}", $"PDrop layers [2, 6, 16] keeping LLaVA-1.5's pdrop-{budget} counts as fractions of 576",
                null, null, reference.Stages.Select(s => Of(s.AfterLayer, s.Keep!.Value / N)).ToList());
        }
        SchedulePreset?[] presets =
        [
            Pio("pio-11", "11.1", 92, 54, 22),
            Pio("pio-22", "22.2", 218, 128, 54),
            Pio("pio-33", "33.3", 344, 202, 86),
            PioVe("pio-ve-11", "11.1", 1),
            PioVe("pio-ve-22", "22.2", 2),
            PioVe("pio-ve-33", "33.3", 3),
            new("pio-bench", "reference bench/profile scripts: v=576, layer_list [1,10,15], image_token_list [436,255,173] (absolute; " +
                "the reference applies them to the 576 base tokens only, here to the whole visual span)",
                null, null, [new() { AfterLayer = 1, Keep = 436 }, new() { AfterLayer = 10, Keep = 255 }, new() { AfterLayer = 15, Keep = 173 }]),
            FastV(11, 1 / 9.0), FastV(22, 2 / 9.0), FastV(33, 3 / 9.0),
            PDrop(11, 64), PDrop(22, 128), PDrop(33, 192),
            SchedulePreset.From("pdrop-official", Llava15AttentionBaselines.PDropOfficial),
        ];
        return presets.OfType<SchedulePreset>().ToList();
    }
}
