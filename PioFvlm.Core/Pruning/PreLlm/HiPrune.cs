namespace PioFvlm.Core.Pruning.PreLlm;

/// <summary>
/// HiPrune, hierarchical attention in the vision encoder (Liu et al., ACL'26 Findings; github Danielement321/HiPrune,
/// LLaVA <c>encode_images</c>), before the LLM, text-agnostic, per image, with B = <see cref="Budget"/>. The score of a
/// patch in a layer is its "global" received attention: the layer's attention probabilities averaged over heads and
/// over every query row, CLS included (HF <c>attentions[l].mean(1).mean(1)[:, 1:]</c>; the CLS-row variant is
/// commented out in the reference).
/// <list type="number">
/// <item>Anchors: the top a = round(B · α / 5) patches (Python's round, half to even) of the object layer
/// (<see cref="ObjectLayer"/>, 1-based as the reference's <c>HIPRUNE_OBJECT_LAYER</c>: 9 → <c>attentions[8]</c>).</item>
/// <item>Buffers: each anchor's p − 1, p + 1, p − W, p + W (W = grid width), clamped to [0, N − 1] as the reference does
/// (so p ± 1 wraps to the neighbouring row's end and an anchor in the first or last row adds patch 0 or N − 1), then
/// anchors and buffers deduplicated.</item>
/// <item>Registers: the remaining B − |anchors ∪ buffers| patches with the highest global attention of layer −2 (the
/// feature layer, <c>attentions[mm_vision_select_layer]</c>).</item>
/// </list>
/// Kept tokens leave in raster order. Defaults (README table): α = 0.1, object layer 9 of CLIP-L's 24; on an encoder of
/// another depth L the object layer is round(9 · L / 24), at least 1 (the middle band is defined relative to depth;
/// the reference hard-codes 9 for LLaVA and 16 of 32 for Qwen2.5-VL). Differences by design: top-k ties go to the lower
/// index (torch.topk leaves them unspecified); when anchors and buffers alone exceed B (the reference then asks topk
/// for a negative count and fails), the anchors' set is cut to B in anchor order, each anchor followed by its buffers.
/// <para>
/// On a CLS-free tower (Qwen2.5-VL), HiPrune's own Qwen code (<c>Qwen2_5_VL/qwen2_5_vl_HiPrune.py</c> @6e83a12): the
/// score of a merged token in a block is the attention it receives there (head mean, summed over all query rows of
/// the image, averaged over its 2 × 2 merge unit, put back into raster order); anchors come from the object block
/// (1-based <c>HIPRUNE_OBJECT_LAYER</c> = 16 of 32 → block 15; round(16 · L / 32) on a tower of depth L, so block 1 of
/// the test tower's 4), registers from the <b>last</b> block (the code's <c>attn_list[-1]</c>, not −2); buffers are
/// ±1, ± W with W the merged grid's width. The code computes these maps over the whole image in every block, also in
/// window blocks (its flash path ignores the windows for the map); we compute received attention only in
/// full-attention blocks, which blocks 15 and 31 of the 7B (and 1 and 3 of the test tower) are, so the defaults give
/// the code's scores (up to the constant 1 / #queries); an object or deep block with window attention is refused by
/// the model, naming it. Kept tokens leave in raster order with their original (t, h, w).
/// </para>
/// </summary>
public sealed class HiPrune : IPreLlmReducer
{
    public const double DefaultAlpha = 0.1;
    /// <summary>The reference's object layer for CLIP ViT-L/14 (24 layers), 1-based.</summary>
    public const int ClipLargeObjectLayer = 9;
    /// <summary>The reference's object layer for Qwen2.5-VL's 32-block tower, 1-based (its bench_qwen.sh).</summary>
    public const int QwenObjectLayer = 16;

    public int Budget { get; }
    public double Alpha { get; }
    /// <summary>Object layer, 1-based; null = the depth-scaled default (see the class remarks).</summary>
    public int? ObjectLayer { get; }
    public int DeepLayer { get; }

    public HiPrune(int budget, double alpha = DefaultAlpha, int? objectLayer = null, int deepLayer = -2)
    {
        if (budget < 1) throw new ArgumentOutOfRangeException(nameof(budget), $"HiPrune budget {budget}: at least 1 token");
        if (!(alpha is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(alpha), $"HiPrune alpha {alpha} must lie in [0, 1]");
        if (objectLayer is < 1) throw new ArgumentOutOfRangeException(nameof(objectLayer), $"HiPrune object layer {objectLayer} is 1-based");
        Budget = budget;
        Alpha = alpha;
        ObjectLayer = objectLayer;
        DeepLayer = deepLayer;
    }

    /// <summary>The 1-based object layer on an encoder of <paramref name="encoderLayers"/> layers.</summary>
    public int ObjectLayerFor(int encoderLayers) =>
        ObjectLayer ?? Math.Max(1, (int)Math.Round(ClipLargeObjectLayer * encoderLayers / 24.0, MidpointRounding.ToEven));

    /// <summary>The 1-based object layer on a CLS-free tower of <paramref name="encoderLayers"/> blocks: the reference's 16
    /// of 32 scaled to the depth.</summary>
    public int ClsFreeObjectLayerFor(int encoderLayers) =>
        ObjectLayer ?? Math.Max(1, (int)Math.Round(QwenObjectLayer * encoderLayers / 32.0, MidpointRounding.ToEven));

    /// <summary>CLIP: <see cref="SignalsFor(int)"/>; a CLS-free tower: the received attention of the object block and of
    /// the last block.</summary>
    public VisionSignalRequest SignalsFor(VisionTowerInfo tower) => tower.HasCls
        ? SignalsFor(tower.Layers)
        : EncoderSignalMath.ReceivedAttentionOf(ClsFreeObjectLayerFor(tower.Layers) - 1, tower.Layers - 1);

    /// <summary>Anchors for a budget: round(B · α / 5), half to even.</summary>
    public int AnchorCount => (int)Math.Round(Budget * Alpha / 5, MidpointRounding.ToEven);

    /// <summary>The signals on CLIP-L (24 layers); the model asks <see cref="SignalsFor(VisionTowerInfo)"/> with its tower.</summary>
    public VisionSignalRequest Signals => SignalsFor(24);

    /// <summary>Global attention of the object layer (0-based index) and of the deep layer.</summary>
    public VisionSignalRequest SignalsFor(int encoderLayers) =>
        new() { MeanAttentionLayers = [ObjectLayerFor(encoderLayers) - 1, DeepLayer] };

    public PreLlmReduction Reduce(VisionStageContext context)
    {
        EncoderSignalMath.CheckPatchFeatures(context, "HiPrune");
        if (Budget >= context.TokenCount) return EncoderSignalMath.KeepAll(context);
        var s = context.Signals;
        bool hasCls = s.Tower.HasCls;
        int objectIndex = (hasCls ? ObjectLayerFor(s.EncoderLayers) : ClsFreeObjectLayerFor(s.EncoderLayers)) - 1;
        if (objectIndex >= s.EncoderLayers)
            throw new ArgumentOutOfRangeException(nameof(ObjectLayer), $"HiPrune object layer {objectIndex + 1} does not exist in a {s.EncoderLayers}-layer encoder");
        var objectScores = EncoderSignalMath.ReduceHeads(hasCls ? s.MeanAttention(objectIndex) : s.ReceivedAttention(objectIndex), sum: false);
        var deepScores = EncoderSignalMath.ReduceHeads(hasCls ? s.MeanAttention(DeepLayer) : s.ReceivedAttention(s.EncoderLayers - 1), sum: false);
        var kept = Select(objectScores, deepScores, s.GridWidth, Budget, AnchorCount);
        using var index = TorchSharp.torch.tensor(kept, TorchSharp.torch.ScalarType.Int64, context.Features.device);
        return new PreLlmReduction(context.Features.index_select(0, index), kept);
    }

    /// <summary>The kept patches, ascending, from the object and deep layers' head-mean global attention.</summary>
    public static long[] Select(IReadOnlyList<float> objectScores, IReadOnlyList<float> deepScores, int gridWidth, int budget, int anchors)
    {
        int n = objectScores.Count;
        if (deepScores.Count != n) throw new ArgumentException($"HiPrune: {objectScores.Count} object-layer and {deepScores.Count} deep-layer scores");
        if (budget >= n) return Enumerable.Range(0, n).Select(i => (long)i).ToArray();
        var chosen = new List<int>();
        foreach (int p in EncoderSignalMath.TopStable(Enumerable.Range(0, n), objectScores, anchors))
            foreach (int q in new[] { p, p - 1, p + 1, p - gridWidth, p + gridWidth }.Select(q => Math.Clamp(q, 0, n - 1)))
                if (!chosen.Contains(q)) chosen.Add(q);
        if (chosen.Count > budget) chosen = chosen.Take(budget).ToList();
        var taken = chosen.ToHashSet();
        chosen.AddRange(EncoderSignalMath.TopStable(Enumerable.Range(0, n).Where(i => !taken.Contains(i)), deepScores, budget - chosen.Count));
        return chosen.Order().Select(i => (long)i).ToArray();
    }
}
