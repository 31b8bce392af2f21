using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.PreLlm;

/// <summary>
/// VisPruner, visual cues only (Zhang et al., ICCV'25; github Theia-4869/VisPruner, <c>encode_images</c>), before the
/// LLM, text-agnostic, per image, with B = <see cref="Budget"/>:
/// <list type="number">
/// <item>Important tokens: the top ⌊B · r⌋ patches by the CLS attention of layer −2 (HF <c>attentions[−2][:, :, 0, 1:]</c>,
/// the layer whose output LLaVA's features are) averaged over heads; r = <see cref="ImportantRatio"/> (reference default
/// 0.5).</item>
/// <item>Diverse tokens: the rest R (in descending attention order) shrinks to B − ⌊B · r⌋ by rounds of matching on the
/// cosine of the selected-layer patch features (pre-projector, <c>hidden_states[−2]</c>): split R by position into
/// even a = R[0], R[2], … and odd b = R[1], R[3], …; score each a by its highest cosine to any b; drop the
/// min(8, |R| − target, |a|) highest-scoring a; the next R is the surviving a in descending score, then all b.</item>
/// </list>
/// Kept tokens leave in raster order, nothing is merged. Differences by design: sorts are stable (ties to the earlier
/// token; torch's argsort leaves them unspecified); an odd |R| (|a| = |b| + 1, which the reference's index arithmetic
/// cannot express and fails on; never reached at 64 / 128 / 192 of 576) is handled as written above; cosines run in
/// float32.
/// <para>
/// On a CLS-free tower (Qwen2.5-VL; not official: VisPruner's code is LLaVA-only, a Qwen port is in LightCompress
/// PR #441, not read) an adaptation: the important tokens rank by the attention each merged token <i>receives</i> in
/// the last full-attention block (the block whose output the merger reads, as layer −2's output is LLaVA's features;
/// head mean, averaged over all query rows and over the 2 × 2 merge unit), and the matching cosines are those of the
/// merged tokens (the merger's output, <see cref="IVisionSignals.SelectedFeatures"/>). Kept tokens leave in raster
/// order with their original (t, h, w).
/// </para>
/// </summary>
public sealed class VisPruner : IPreLlmReducer
{
    /// <summary>Tokens dropped per matching round (the reference's constant 8).</summary>
    public const int DropPerRound = 8;

    public int Budget { get; }
    public double ImportantRatio { get; }
    public int Layer { get; }

    public VisPruner(int budget, double importantRatio = 0.5, int layer = -2)
    {
        if (budget < 1) throw new ArgumentOutOfRangeException(nameof(budget), $"VisPruner budget {budget}: at least 1 token");
        if (!(importantRatio is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(importantRatio), $"VisPruner important ratio {importantRatio} must lie in [0, 1]");
        Budget = budget;
        ImportantRatio = importantRatio;
        Layer = layer;
        Signals = new VisionSignalRequest { ClsAttentionLayers = [layer] };
    }

    public VisionSignalRequest Signals { get; }

    /// <summary>CLIP: <see cref="Signals"/>; a CLS-free tower: the received attention of its last full-attention block.</summary>
    public VisionSignalRequest SignalsFor(VisionTowerInfo tower) =>
        tower.HasCls ? Signals : EncoderSignalMath.ReceivedAttentionOf(EncoderSignalMath.LastFullAttentionLayer(tower, "VisPruner"));

    /// <summary>Important tokens for a budget: ⌊B · r⌋ (Python's <c>int()</c>).</summary>
    public int ImportantCount => (int)Math.Floor(Budget * ImportantRatio);

    public PreLlmReduction Reduce(VisionStageContext context)
    {
        EncoderSignalMath.CheckPatchFeatures(context, "VisPruner");
        if (Budget >= context.TokenCount) return EncoderSignalMath.KeepAll(context);
        var signals = context.Signals;
        var attention = EncoderSignalMath.ReduceHeads(signals.Tower.HasCls ? signals.ClsAttention(Layer)
            : signals.ReceivedAttention(EncoderSignalMath.LastFullAttentionLayer(signals.Tower, "VisPruner")), sum: false);
        float[] similarity;
        int n = (int)context.TokenCount;
        using (NewDisposeScope())
        {
            var unit = nn.functional.normalize(context.Signals.SelectedFeatures.to(ScalarType.Float32), p: 2, dim: 1, eps: 1e-12);
            similarity = matmul(unit, unit.t()).cpu().data<float>().ToArray();
        }
        var kept = Select(attention, similarity, n, Budget, ImportantCount);
        using var index = tensor(kept, ScalarType.Int64, context.Features.device);
        return new PreLlmReduction(context.Features.index_select(0, index), kept);
    }

    /// <summary>The kept patches, ascending, from head-mean attention and the row-major N × N feature cosines.</summary>
    public static long[] Select(IReadOnlyList<float> attention, float[] similarity, int n, int budget, int important)
    {
        if (attention.Count != n || similarity.Length != n * n)
            throw new ArgumentException($"VisPruner: {attention.Count} attention scores and {similarity.Length} similarities for {n} tokens");
        if (budget >= n) return Enumerable.Range(0, n).Select(i => (long)i).ToArray();
        var order = EncoderSignalMath.TopStable(Enumerable.Range(0, n), attention, n);
        var kept = order.Take(important).ToList();
        int diverse = budget - important;
        var residual = order.Skip(important).ToList();
        while (diverse > 0)
        {
            int drop = Math.Min(DropPerRound, residual.Count - diverse);
            var a = residual.Where((_, p) => p % 2 == 0).ToList();
            var b = residual.Where((_, p) => p % 2 == 1).ToList();
            drop = Math.Min(drop, a.Count);
            if (drop <= 0 || b.Count == 0) break;
            var score = a.Select(i => b.Max(j => similarity[i * n + j])).ToArray();
            var survivors = Enumerable.Range(0, a.Count).OrderByDescending(p => score[p]).Skip(drop).Select(p => a[p]);
            residual = survivors.Concat(b).ToList();
        }
        if (diverse > 0) kept.AddRange(residual.Take(diverse));
        return kept.Order().Select(i => (long)i).ToArray();
    }
}
