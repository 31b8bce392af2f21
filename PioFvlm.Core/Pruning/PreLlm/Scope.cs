using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.PreLlm;

/// <summary>
/// SCOPE, saliency-coverage oriented token pruning (Deng et al., NeurIPS'25; github kinredon/SCOPE,
/// <c>CLIPVisionTower_SCOPE</c>; specs/baselines.md §10): text-agnostic, in the vision encoder. Per image, with
/// cos(i, j) the cosine similarity of the patch hidden states <see cref="HiddenStateIndex"/> (−2, the output of CLIP
/// layer 22) and a_j the CLS attention of layer <see cref="Layer"/> (−2) summed over heads, a greedy
/// facility-location pick of <see cref="Budget"/> patches:
/// <code>cover = 0;  repeat K times:
///   gain_j = Σ_i max(0, cos(i, j) − cover_i)      (over all patches i)
///   j* = argmax over unselected j of gain_j · a_j^α       (COMBINED = 'multi', α = 1)
///   cover_i = max(cover_i, cos(i, j*))</code>
/// The kept patches leave in raster order, CLS is not kept, nothing is merged. Since the projector works per token,
/// the kept rows of the projected features are what projecting the kept hidden states gives. Similarities run in
/// float32 and gains are summed in float64 (the reference works in fp16); ties go to the lower patch index (argmax's
/// first maximum). A budget at or above the patch count keeps every token.
/// <para>
/// On a CLS-free tower (Qwen2.5-VL; not official, the paper covers LLaVA only; specs/baselines.md §10.7) an
/// adaptation: a_j is the attention merged token j <i>receives</i> in the last full-attention block (per head
/// softmax(Q · Kᵀ / √d) over the image averaged over all query rows and over the 2 × 2 merge unit, summed over heads,
/// as the CLS row is summed on CLIP), and the cosines are those of the merged tokens (the merger's output). Kept
/// tokens leave in raster order with their original (t, h, w).
/// </para>
/// </summary>
public sealed class Scope : IPreLlmReducer
{
    public int Budget { get; }

    /// <summary>Exponent on the saliency (reference <c>ALPHA</c>, default 1).</summary>
    public double Alpha { get; }

    public int Layer { get; }
    public int HiddenStateIndex { get; }

    public Scope(int budget, double alpha = 1.0, int layer = -2, int hiddenStateIndex = -2)
    {
        if (budget < 1) throw new ArgumentOutOfRangeException(nameof(budget), $"SCOPE budget {budget}: at least 1 token");
        if (!double.IsFinite(alpha) || alpha < 0) throw new ArgumentOutOfRangeException(nameof(alpha), $"SCOPE alpha {alpha} must be finite and ≥ 0");
        Budget = budget;
        Alpha = alpha;
        Layer = layer;
        HiddenStateIndex = hiddenStateIndex;
        Signals = new VisionSignalRequest { ClsAttentionLayers = [layer], HiddenStates = [hiddenStateIndex] };
    }

    public VisionSignalRequest Signals { get; }

    /// <summary>CLIP: <see cref="Signals"/>; a CLS-free tower: the received attention of its last full-attention block.</summary>
    public VisionSignalRequest SignalsFor(VisionTowerInfo tower) =>
        tower.HasCls ? Signals : EncoderSignalMath.ReceivedAttentionOf(EncoderSignalMath.LastFullAttentionLayer(tower, "SCOPE"));

    public PreLlmReduction Reduce(VisionStageContext context)
    {
        EncoderSignalMath.CheckPatchFeatures(context, "SCOPE");
        if (Budget >= context.TokenCount) return EncoderSignalMath.KeepAll(context);
        var signals = context.Signals;

        using var scope = NewDisposeScope();
        Tensor patches;
        float[] saliency;
        if (signals.Tower.HasCls)
        {
            var hidden = signals.HiddenState(HiddenStateIndex);
            patches = hidden.narrow(0, 1, hidden.shape[0] - 1);
            saliency = EncoderSignalMath.ReduceHeads(signals.ClsAttention(Layer), sum: true);
        }
        else
        {
            patches = context.Features;
            saliency = EncoderSignalMath.ReduceHeads(signals.ReceivedAttention(EncoderSignalMath.LastFullAttentionLayer(signals.Tower, "SCOPE")), sum: true);
        }
        var kept = Select(patches, saliency, Budget, Alpha);
        var features = context.Features.index_select(0, tensor(kept, ScalarType.Int64, context.Features.device));
        return new PreLlmReduction(features.MoveToOuterDisposeScope(), kept);
    }

    /// <summary>The greedy pick on patch features [P, H] and per-patch saliency, ascending patch indices.</summary>
    public static long[] Select(Tensor patchFeatures, IReadOnlyList<float> saliency, int budget, double alpha = 1.0)
    {
        long n = patchFeatures.shape[0];
        if (saliency.Count != n)
            throw new ArgumentException($"SCOPE: {saliency.Count} saliency scores for {n} patch features");
        if (budget >= n) return Enumerable.Range(0, (int)n).Select(i => (long)i).ToArray();

        // The greedy loop runs on a host copy: K small steps over an N × N matrix are cheaper there than as K rounds
        // of tensor ops (SCOPE at 192 on 576 tokens: 64 M multiply-adds).
        float[] similarity;
        using (NewDisposeScope())
        {
            var normalized = nn.functional.normalize(patchFeatures.to(ScalarType.Float32), p: 2, dim: 1, eps: 1e-12);
            similarity = matmul(normalized, normalized.t()).cpu().data<float>().ToArray();
        }
        int size = (int)n;
        var weight = saliency.Select(a => Math.Pow(a, alpha)).ToArray();
        var cover = new float[size];
        var selected = new bool[size];
        var gain = new double[size];
        var picked = new List<long>(budget);
        for (int step = 0; step < budget; step++)
        {
            Array.Clear(gain);
            for (int i = 0; i < size; i++)
            {
                float c = cover[i];
                int row = i * size;
                for (int j = 0; j < size; j++)
                {
                    float d = similarity[row + j] - c;
                    if (d > 0) gain[j] += d;
                }
            }
            int best = -1;
            double bestScore = double.NegativeInfinity;
            for (int j = 0; j < size; j++)
                if (!selected[j] && gain[j] * weight[j] > bestScore) (best, bestScore) = (j, gain[j] * weight[j]);
            selected[best] = true;
            picked.Add(best);
            int bestRow = best * size;
            for (int i = 0; i < size; i++) cover[i] = Math.Max(cover[i], similarity[bestRow + i]);
        }
        return picked.Order().ToArray();
    }
}
