using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.PreLlm;

/// <summary>Small pieces the CLIP-side baselines (VisionZip, SCOPE, HoloV, VisPruner, HiPrune) share.</summary>
internal static class EncoderSignalMath
{
    /// <summary>
    /// The block whose received attention stands in for CLS attention on a CLS-free tower (Qwen2.5-VL): the last
    /// full-attention block (31 of the 7B's 32, the block whose output the merger reads; 3 of the test tower's 4). It is
    /// the block HoloV's Qwen code reads (the last block) and the one community VisionZip ports read (specs/baselines.md
    /// §4.7, §9.7).
    /// </summary>
    public static int LastFullAttentionLayer(VisionTowerInfo tower, string method) =>
        tower.FullAttentionLayers.Count == 0
            ? throw new NotSupportedException($"{method} on a CLS-free tower reads the received attention of a full-attention block, and this {tower.Layers}-layer tower has none")
            : tower.FullAttentionLayers.Max();

    /// <summary>The request of a CLS-free adaptation: the received attention of <paramref name="layers"/> only.</summary>
    public static VisionSignalRequest ReceivedAttentionOf(params int[] layers) => new() { ReceivedAttentionLayers = layers };

    /// <summary><paramref name="rows"/> and their kept indices, reordered by ascending kept index (raster
    /// order of the token grid), so that on Qwen2.5-VL the rows' original M-RoPE positions ascend along the sequence.</summary>
    public static PreLlmReduction InRasterOrder(Tensor rows, IReadOnlyList<long> kept)
    {
        var order = Enumerable.Range(0, kept.Count).OrderBy(i => kept[i]).ToArray();
        using var index = tensor(order.Select(i => (long)i).ToArray(), ScalarType.Int64, rows.device);
        return new PreLlmReduction(rows.index_select(0, index), order.Select(i => kept[i]).ToArray());
    }

    /// <summary>Per-head CLS rows [heads, P] reduced over heads to P floats (mean or sum), in float32.</summary>
    public static float[] ReduceHeads(Tensor perHead, bool sum)
    {
        using var _ = NewDisposeScope();
        var f = perHead.to(ScalarType.Float32);
        return (sum ? f.sum([0]) : f.mean([0])).cpu().data<float>().ToArray();
    }

    /// <summary>The <paramref name="k"/> highest-scoring candidates by descending score; equal scores keep the
    /// candidates' order (a stable sort), where torch.topk leaves ties unspecified.</summary>
    public static int[] TopStable(IEnumerable<int> candidates, IReadOnlyList<float> scores, int k) =>
        candidates.OrderByDescending(i => scores[i]).Take(k).ToArray();

    /// <summary>Throws unless the features are the patch tokens of the grid (LLaVA's 'default' strategy, no CLS).</summary>
    public static void CheckPatchFeatures(VisionStageContext context, string method)
    {
        var s = context.Signals;
        if (s.FeaturesIncludeCls)
            throw new NotSupportedException($"{method} works on patch tokens only; image {context.ImageIndex} has CLS among its features (vision_feature_select_strategy 'full')");
        if (context.TokenCount != (long)s.GridHeight * s.GridWidth)
            throw new ArgumentException($"{method}: image {context.ImageIndex} has {context.TokenCount} feature rows for a {s.GridHeight} × {s.GridWidth} patch grid");
    }

    /// <summary>The unreduced features (a budget at or above the token count keeps every token, unchanged).</summary>
    public static PreLlmReduction KeepAll(VisionStageContext context) =>
        new(context.Features.alias(), Enumerable.Range(0, (int)context.TokenCount).Select(i => (long)i).ToArray());
}
