using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.PreLlm;

/// <summary>
/// VisionZip (Yang et al., CVPR'25; github dvlab-research/VisionZip; specs/baselines.md §4): text-agnostic, in the
/// vision encoder, before the projector. Per image, on CLIP layer <see cref="Layer"/> (−2 = layer 22 of 0..23, the
/// layer whose output LLaVA uses):
/// <list type="number">
/// <item>Dominant: the CLS token plus the <see cref="Dominant"/> − 1 patches with the highest CLS attention summed
/// over heads, in ascending token order (CLS first). <see cref="Dominant"/> counts CLS, as the reference's argument
/// does: the CLS token's layer-22 feature is projected and fed to the LLM although vanilla LLaVA drops it (§4.3).</item>
/// <item>Contextual: the remaining tokens in ascending order; with step = max(1, |rest| / C), the rest positions 0,
/// step, 2·step, … (first C) are targets; every other rest token goes to the target whose head-averaged key is most
/// cosine-similar; a contextual token is target + mean(assigned) (the reference's quirk, not the mean of all; a target
/// with nothing assigned is itself).</item>
/// <item>Output: dominant tokens then contextual tokens (not raster order, §2.5), projected by the model's projector.</item>
/// </list>
/// Merging runs in float32 on the hidden states <see cref="HiddenStateIndex"/> (−2, the output of layer 22), cast back
/// to their dtype before projecting (the reference works in fp16). Ties in CLS attention go to the lower patch index,
/// ties in similarity to the first target (argmax). Decisions where the spec is silent: a budget at or above the patch
/// count keeps the unreduced features (no CLS), so the full budget is the unpruned model; <see cref="ForBudget"/>
/// splits B as C = round(5B/32), D = B − C, which is the published 54/10, 108/20, 162/30 at 64/128/192.
/// <para>
/// On a CLS-free tower (Qwen2.5-VL; no official Qwen code in the snapshot read, specs/baselines.md §4.7) an adaptation:
/// the dominant tokens are the <see cref="Dominant"/> merged tokens (no CLS to count) that <i>receive</i> the most
/// attention in the last full-attention block (per head softmax(Q · Kᵀ / √d) over the image, averaged over all query
/// rows and over the token's 2 × 2 merge unit, summed over heads; <see cref="IVisionSignals.ReceivedAttention"/>);
/// the contextual tokens are chosen and merged by the same rule as above, with the merged tokens themselves (the
/// merger's output, LLM-side) as the similarity metric and the merged rows: the tower has no separate projector and
/// pruning before the merger would break its 2 × 2 units (§4.7). Rows leave in raster order of the kept index; a
/// contextual token (target + mean of the tokens assigned to it) sits at its <b>target's</b> original (t, h, w).
/// </para>
/// </summary>
public sealed class VisionZip : IPreLlmReducer
{
    /// <summary>Dominant tokens per image, CLS included (at least 1).</summary>
    public int Dominant { get; }

    /// <summary>Contextual (merged) tokens per image.</summary>
    public int Contextual { get; }

    /// <summary>The CLIP layer (HF <c>attentions</c> index) of the CLS attention and the keys.</summary>
    public int Layer { get; }

    /// <summary>The HF <c>hidden_states</c> index of the features that are kept or merged.</summary>
    public int HiddenStateIndex { get; }

    public int Budget => Dominant + Contextual;

    public VisionZip(int dominant, int contextual, int layer = -2, int hiddenStateIndex = -2)
    {
        if (dominant < 1)
            throw new ArgumentOutOfRangeException(nameof(dominant), $"VisionZip dominant = {dominant}: it counts the CLS token, so at least 1");
        if (contextual < 0)
            throw new ArgumentOutOfRangeException(nameof(contextual), $"VisionZip contextual = {contextual} is negative");
        Dominant = dominant;
        Contextual = contextual;
        Layer = layer;
        HiddenStateIndex = hiddenStateIndex;
        Signals = new VisionSignalRequest { ClsAttentionLayers = [layer], KeyLayers = [layer], HiddenStates = [hiddenStateIndex] };
    }

    /// <summary>The published split of a total budget: 64 → 54 + 10, 128 → 108 + 20, 192 → 162 + 30 (C = round(5B/32)).</summary>
    public static VisionZip ForBudget(int budget)
    {
        if (budget < 1) throw new ArgumentOutOfRangeException(nameof(budget), $"VisionZip budget {budget}: at least 1 token");
        int contextual = (int)Math.Round(budget * 5 / 32.0, MidpointRounding.AwayFromZero);
        return new VisionZip(Math.Max(1, budget - contextual), Math.Min(contextual, budget - 1));
    }

    public VisionSignalRequest Signals { get; }

    /// <summary>CLIP: <see cref="Signals"/>; a CLS-free tower: the received attention of its last full-attention block.</summary>
    public VisionSignalRequest SignalsFor(VisionTowerInfo tower) =>
        tower.HasCls ? Signals : EncoderSignalMath.ReceivedAttentionOf(EncoderSignalMath.LastFullAttentionLayer(tower, "VisionZip"));

    public PreLlmReduction Reduce(VisionStageContext context)
    {
        EncoderSignalMath.CheckPatchFeatures(context, "VisionZip");
        if (Budget >= context.TokenCount) return EncoderSignalMath.KeepAll(context);
        var signals = context.Signals;
        if (!signals.Tower.HasCls) return ReduceWithoutCls(context);

        using var scope = NewDisposeScope();
        var hidden = signals.HiddenState(HiddenStateIndex);
        var metric = signals.Keys(Layer).to(ScalarType.Float32).mean([0]);
        var scores = EncoderSignalMath.ReduceHeads(signals.ClsAttention(Layer), sum: true);
        var selection = Select(scores, metric, Dominant, Contextual);
        var merged = Compose(hidden, selection).to(hidden.dtype);
        var projected = signals.Project(merged).to(context.Features.dtype);
        var kept = selection.Dominant.Concat(selection.Targets).Select(t => t - 1).ToArray();
        return new PreLlmReduction(projected.MoveToOuterDisposeScope(), kept);
    }

    /// <summary>The CLS-free adaptation (class remarks): dominant by received attention, contextual merged on the tokens.</summary>
    PreLlmReduction ReduceWithoutCls(VisionStageContext context)
    {
        var signals = context.Signals;
        using var scope = NewDisposeScope();
        var scores = EncoderSignalMath.ReduceHeads(signals.ReceivedAttention(EncoderSignalMath.LastFullAttentionLayer(signals.Tower, "VisionZip")), sum: true);
        var tokens = context.Features.to(ScalarType.Float32);
        var selection = SelectWithoutCls(scores, tokens, Dominant, Contextual);
        var rows = Compose(tokens, selection).to(context.Features.dtype);
        var reduction = EncoderSignalMath.InRasterOrder(rows, [.. selection.Dominant, .. selection.Targets]);
        return reduction with { Features = reduction.Features.MoveToOuterDisposeScope() };
    }

    /// <summary>
    /// The CLS-free choice on per-token scores (<paramref name="scores"/>, raster order) and the merge metric [P, d]:
    /// the <paramref name="dominant"/> top tokens (equal scores: lower index first), then the contextual rule on the rest.
    /// Token indices are the tokens' own (no CLS).
    /// </summary>
    public static VisionZipSelection SelectWithoutCls(IReadOnlyList<float> scores, Tensor metric, int dominant, int contextual)
    {
        int tokens = scores.Count;
        if (metric.dim() != 2 || metric.shape[0] != tokens)
            throw new ArgumentException($"merge metric [{string.Join(", ", metric.shape)}] does not fit {tokens} tokens");
        if (dominant < 0 || contextual < 0 || dominant + contextual > tokens)
            throw new ArgumentOutOfRangeException(nameof(dominant), $"VisionZip {dominant} dominant + {contextual} contextual do not fit {tokens} tokens");
        var dom = EncoderSignalMath.TopStable(Enumerable.Range(0, tokens), scores, dominant).Select(t => (long)t).Order().ToArray();
        return WithContextual(dom, tokens, metric, contextual);
    }

    /// <summary>
    /// The token choice on CLS scores over the P patches (<paramref name="clsScores"/>, raster order) and the merge
    /// metric [1 + P, d] (CLS first). Token indices count CLS as 0.
    /// </summary>
    public static VisionZipSelection Select(IReadOnlyList<float> clsScores, Tensor metric, int dominant, int contextual)
    {
        int patches = clsScores.Count;
        if (metric.dim() != 2 || metric.shape[0] != patches + 1)
            throw new ArgumentException($"merge metric [{string.Join(", ", metric.shape)}] does not fit {patches} patches + CLS");
        if (dominant < 1 || contextual < 0 || dominant + contextual > patches + 1)
            throw new ArgumentOutOfRangeException(nameof(dominant), $"VisionZip {dominant} dominant + {contextual} contextual do not fit {patches} patches + CLS");

        var top = EncoderSignalMath.TopStable(Enumerable.Range(0, patches), clsScores, dominant - 1);
        var dom = new long[] { 0 }.Concat(top.Select(p => (long)p + 1).Order()).ToArray();
        return WithContextual(dom, patches + 1, metric, contextual);
    }

    /// <summary>The contextual part: targets spread evenly over the non-dominant tokens of 0 .. <paramref name="tokens"/> − 1
    /// in ascending order, every other one assigned to its most cosine-similar target on <paramref name="metric"/>.</summary>
    static VisionZipSelection WithContextual(long[] dom, int tokens, Tensor metric, int contextual)
    {
        var isDominant = new HashSet<long>(dom);
        var rest = Enumerable.Range(0, tokens).Select(i => (long)i).Where(i => !isDominant.Contains(i)).ToArray();
        if (contextual == 0 || rest.Length == 0)
            return new VisionZipSelection(dom, [], []);

        int step = Math.Max(1, rest.Length / contextual);
        var targetPositions = Enumerable.Range(0, rest.Length).Where(i => i % step == 0).Take(contextual).ToHashSet();
        var targets = targetPositions.Order().Select(i => rest[i]).ToArray();
        var others = Enumerable.Range(0, rest.Length).Where(i => !targetPositions.Contains(i)).Select(i => rest[i]).ToArray();
        var assigned = targets.Select(_ => new List<long>()).ToArray();
        if (others.Length > 0)
        {
            using var _ = NewDisposeScope();
            var m = metric.to(ScalarType.Float32);
            var normalized = nn.functional.normalize(m, p: 2, dim: 1, eps: 1e-12);
            var similarity = matmul(
                normalized.index_select(0, tensor(others, ScalarType.Int64, metric.device)),
                normalized.index_select(0, tensor(targets, ScalarType.Int64, metric.device)).t());
            var nearest = similarity.argmax(1).cpu().data<long>().ToArray();
            for (int o = 0; o < others.Length; o++) assigned[nearest[o]].Add(others[o]);
        }
        return new VisionZipSelection(dom, targets, assigned.Select(a => a.ToArray()).ToArray());
    }

    /// <summary>Rows of <paramref name="hidden"/> [1 + P, H]: the dominant tokens, then each target + mean of its
    /// assigned tokens, in float32.</summary>
    public static Tensor Compose(Tensor hidden, VisionZipSelection selection)
    {
        using var _ = NewDisposeScope();
        var h = hidden.to(ScalarType.Float32);
        var device = hidden.device;
        var parts = new List<Tensor> { h.index_select(0, tensor(selection.Dominant, ScalarType.Int64, device)) };
        for (int t = 0; t < selection.Targets.Length; t++)
        {
            var row = h[selection.Targets[t]].unsqueeze(0);
            var group = selection.Merged[t];
            if (group.Length > 0)
                row = row + h.index_select(0, tensor(group, ScalarType.Int64, device)).mean([0], keepdim: true);
            parts.Add(row);
        }
        return cat(parts, 0).MoveToOuterDisposeScope();
    }
}

/// <summary>VisionZip's choice for one image; token indices count CLS as 0 (patch p is token p + 1).</summary>
/// <param name="Dominant">CLS and the top patches, ascending.</param>
/// <param name="Targets">The contextual targets, ascending.</param>
/// <param name="Merged">Per target, the tokens assigned to it (ascending).</param>
public sealed record VisionZipSelection(long[] Dominant, long[] Targets, long[][] Merged);
