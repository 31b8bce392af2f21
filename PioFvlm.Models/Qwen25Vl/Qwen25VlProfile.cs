using PioFvlm.Core.Generation;
using PioFvlm.Core.Models;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Attention;
using PioFvlm.Core.Pruning.Efficiency;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// Qwen2.5-VL's family profile, estimate-level until the model is implemented: dynamic resolution
/// (<see cref="SmartResize"/>), 3-row M-RoPE positions kept as they are after pruning, the reference's probe (the
/// layer just run again, input embeddings as the head; spec pio-fvlm.md §8), no CLS token, ratio budgets (§5.4).
/// </summary>
public static class Qwen25VlProfile
{
    public const string Family = "qwen2.5-vl";

    /// <summary>The reference scripts' fixed 1008 × 1008 input: 36 × 36 merged units.</summary>
    public const int NominalVisualTokens = 1296;

    public const string ImagePlaceholder = "<|image_pad|>";

    /// <summary>Qwen2.5-VL-7B's decoder (spec qwen25vl-torchsharp.md A1).</summary>
    public static DecoderDims Qwen7B { get; } = new(HiddenSize: 3584, NumHeads: 28, NumKvHeads: 4, HeadDim: 128, IntermediateSize: 18944,
        NumLayers: 28, RmsNormEps: 1e-6, RopeTheta: 1e6, VocabSize: 152064, MaxPositions: 128000,
        TieWordEmbeddings: false, AttentionBias: true) { OutputBias = false, MropeSection = (16, 24, 24) };

    public static ModelProfile Reference7B { get; } = Create(Qwen7B, SmartResize.Factor,
        "Qwen2.5-VL-7B, 1296 visual tokens (1008×1008 input)");

    /// <summary>The profile of a parsed config (merge factor from its vision section; the 7B preprocessor's pixel bounds).</summary>
    public static ModelProfile For(Qwen25VlConfig config) => Create(config.Text.ToDecoderDims(),
        config.Vision.PatchSize * config.Vision.SpatialMergeSize,
        $"Qwen2.5-VL ({config.Text.NumHiddenLayers} decoder layers) from {config.SourcePath}");

    static ModelProfile Create(DecoderDims text, int factor, string description) => new()
    {
        Family = Family,
        Description = description,
        Text = text,
        VisualTokensForImage = (w, h) => SmartResize.VisualTokens(w, h, factor),
        NominalVisualTokens = NominalVisualTokens,
        Presets = Presets(text.NumLayers),
        DefaultPositions = PositionPolicy.KeepOriginal,
        PositionRows = 3,
        Saliency = GradientSaliencyOptions.QwenReference,
        ImagePlaceholder = ImagePlaceholder,
        VisionHasCls = false,
    };

    /// <summary>The reference's ratio schedules (§5.4, cumulative: each fraction of the count entering its stage) and
    /// ours (fractions of the original count, so the average is the target for any image).</summary>
    static IReadOnlyList<SchedulePreset> Presets(int layers)
    {
        static PruningStage Current(int afterLayer, double fraction) => new() { AfterLayer = afterLayer, Ratio = fraction, RatioOf = RatioBase.Current };
        static PruningStage Original(int afterLayer, double fraction) => new() { AfterLayer = afterLayer, Ratio = fraction, RatioOf = RatioBase.Original };
        // The mmbench/science numbers [0.6003, 0.3519, 0.1436] at [1, 8, 14] give exactly 33.3 % when read as fractions
        // of the original count (§5.4, §13); ours scale that shape to the target: 1 + k·Σ(run·fraction) = L·target.
        int[] at = [1, 8, 14];
        double[] shape = [0.6003, 0.3519, 0.1436];
        SchedulePreset Pio(int percent, double target)
        {
            double weighted = 0;
            for (int i = 0; i < at.Length; i++) weighted += ((i + 1 < at.Length ? at[i + 1] : layers) - at[i]) * shape[i];
            double k = (layers * target - at[0]) / weighted;
            var stages = at.Select((l, i) => Original(l, Math.Round(k * shape[i], 4))).ToList();
            return new($"pio-{percent}", $"ours: {percent} % on average, layers [1,8,14] keeping the reference's mmbench fractions " +
                $"× {k:0.###} of the original count", null, null, stages);
        }
        SchedulePreset FastV(int percent, double retention)
        {
            double ratio = FastVBudget.RatioFor(retention, Llava15AttentionBaselines.FastVLayer, layers);
            return new($"fastv-{percent}", $"FastV K = 2 keeping {ratio:0.####} of the original count: {percent} % on average over {layers} layers",
                null, null, [Original(Llava15AttentionBaselines.FastVLayer, ratio)]);
        }
        return
        [
            new("pio-ve-11", "reference (README, VScan default): the encoder keeps int(0.167·N), then int(0.333·) of that after layer 14: 11.1 %",
                null, 0.167, [Current(14, 0.333)]),
            new("pio-loader", "reference (qwen/eval/model_vqa_loader.py defaults): no encoder stage, 0.1 of the count after layer 1: 13.2 %",
                null, null, [Current(1, 0.1)]),
            new("pio-mmbench", "reference (mmbench/science defaults): [1,8,14] keeping [0.6003,0.3519,0.1436], cumulative as coded: 24.6 %",
                null, null, [Current(1, 0.6003), Current(8, 0.3519), Current(14, 0.1436)]),
            new("pio-refcoco", "reference (test_refcoco.py): the encoder keeps 0.6, then 0.67 of that after layer 14: about 50 %",
                null, 0.6, [Current(14, 0.67)]),
            // Ours are derived from the depth: a decoder too shallow for them (the 4-layer test checkpoints) has none,
            // rather than a profile that cannot be built; the reference's fixed presets stay and fail at validation.
            .. (layers > at[^1] ? new[] { Pio(11, 1 / 9.0), Pio(22, 2 / 9.0), Pio(33, 3 / 9.0) } : []),
            .. (layers >= 9 * Llava15AttentionBaselines.FastVLayer ? new[] { FastV(11, 1 / 9.0), FastV(22, 2 / 9.0), FastV(33, 3 / 9.0) } : []),
            SchedulePreset.From("pdrop-official", Llava15AttentionBaselines.PDropOfficial),
        ];
    }
}
