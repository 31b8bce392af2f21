using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.PreLlm;

/// <summary>
/// HoloV, crop-wise holistic allocation (Zou et al., NeurIPS'25; github obananas/HoloV, <c>llava/model/utils.py</c>;
/// specs/baselines.md §9), as released (the paper's "visual context refetching" is not in the code and not here).
/// Text-agnostic, on the projected features, with a_j the CLS attention of CLIP layer <see cref="Layer"/> (−2 = layer
/// 22) averaged over heads. Per image, with K = <see cref="Budget"/>:
/// <list type="number">
/// <item>The raster-ordered tokens are cut into C contiguous crops (1-D chunks, not 2-D windows; sizes differ by at
/// most one, the first crops take the remainder). C = max(1, ⌊1024·N / (576·K)⌋), the released Qwen rule: 16 / 8 / 5
/// crops at 64 / 128 / 192 of 576 (the LLaVA code hard-codes 16; §9.4 recommends the rule for every budget).</item>
/// <item>Per crop of m ≥ 2 tokens: S = cosine similarities (features / (‖f‖ + 1e−6)) with a zeroed diagonal;
/// μ_i = Σ_j S_ij / (m−1); var_i = Σ_j (S_ij − μ_i)² / (m−1) (the zeroed diagonal entry counted); A = 1000·a;
/// γ = mean|A| / (mean|var| + 1e−6); h = A + α·γ·var (α = 0.09); score = mean h. A one-token crop scores its raw a.</item>
/// <item>w_c = score_c^τ / (Σ score^τ + 1e−6) (τ = 1); q_c = ⌊w_c·K⌋; the K − Σq left go one each to the crops of
/// largest w (ties: lower crop first).</item>
/// <item>A crop with q_c ≥ m gives all its tokens in raster order; 0 &lt; q_c &lt; m gives its top q_c by a, in
/// descending a (ties: lower index first). Crops are concatenated in order; fewer than K rows are padded with zero
/// vectors (kept index −1, as released: overflow is not redistributed), more are truncated.</item>
/// </list>
/// Arithmetic is float32 for the similarities and float64 for the scores (the reference works in fp16). A budget at
/// or above the token count keeps every token unchanged.
/// <para>
/// On a CLS-free tower (Qwen2.5-VL), HoloV's own Qwen code (<c>qwen-model-HoloV</c>, specs/baselines.md §9.7): a_j is
/// the attention token j <i>receives</i> in the last vision block (a full-attention block on every Qwen2.5-VL: 31 of
/// 32), averaged over heads and query rows and over the token's 2 × 2 merge unit, on the merged tokens (the merger's
/// output); the same crops, scores and quotas (its α = 1 on A and β = 0.09 on the variance are our 1000·a + 0.09·γ·var).
/// Ours vs that code: the scores are put back into raster order (the code averages them in window order while its
/// features are in raster order, §9.7's "possible bug"); and the zero padding rows are dropped, so a shortfall keeps
/// fewer than K tokens (the code indexes its positions with −1, i.e. gives a padding row the last image token's
/// position, while every row here must stand at one original token's (t, h, w)). Kept tokens keep the code's order
/// (crop by crop, descending attention) and their original positions.
/// </para>
/// </summary>
public sealed class HoloV : IPreLlmReducer
{
    public int Budget { get; }

    /// <summary>Crops per image, or null for the budget rule <see cref="CropsFor"/>.</summary>
    public int? Crops { get; }

    /// <summary>Weight of the similarity variance in the holistic score (released 0.09).</summary>
    public double Alpha { get; }

    /// <summary>Exponent on the crop scores (released 1).</summary>
    public double Tau { get; }

    public int Layer { get; }

    public HoloV(int budget, int? crops = null, double alpha = 0.09, double tau = 1.0, int layer = -2)
    {
        if (budget < 1) throw new ArgumentOutOfRangeException(nameof(budget), $"HoloV budget {budget}: at least 1 token");
        if (crops is < 1) throw new ArgumentOutOfRangeException(nameof(crops), $"HoloV crops {crops}: at least 1");
        Budget = budget;
        Crops = crops;
        Alpha = alpha;
        Tau = tau;
        Layer = layer;
        Signals = new VisionSignalRequest { ClsAttentionLayers = [layer] };
    }

    public VisionSignalRequest Signals { get; }

    /// <summary>CLIP: <see cref="Signals"/>; a CLS-free tower: the received attention of its last full-attention block.</summary>
    public VisionSignalRequest SignalsFor(VisionTowerInfo tower) =>
        tower.HasCls ? Signals : EncoderSignalMath.ReceivedAttentionOf(EncoderSignalMath.LastFullAttentionLayer(tower, "HoloV"));

    /// <summary>C = max(1, ⌊1024·N / (576·K)⌋) (HoloV's Qwen rule, in integers).</summary>
    public static int CropsFor(long tokens, int budget) => (int)Math.Max(1, 1024 * tokens / (576L * budget));

    public PreLlmReduction Reduce(VisionStageContext context)
    {
        EncoderSignalMath.CheckPatchFeatures(context, "HoloV");
        long n = context.TokenCount;
        if (Budget >= n) return EncoderSignalMath.KeepAll(context);
        var signals = context.Signals;
        bool hasCls = signals.Tower.HasCls;
        var attention = EncoderSignalMath.ReduceHeads(hasCls ? signals.ClsAttention(Layer)
            : signals.ReceivedAttention(EncoderSignalMath.LastFullAttentionLayer(signals.Tower, "HoloV")), sum: false);
        int crops = Math.Min(Crops ?? CropsFor(n, Budget), (int)n);

        using var scope = NewDisposeScope();
        var kept = Select(context.Features, attention, Budget, crops, Alpha, Tau);
        if (!hasCls) kept = kept.Where(i => i >= 0).ToArray();   // no padding rows: each row needs an original position
        var device = context.Features.device;
        var real = kept.Where(i => i >= 0).ToArray();
        var rows = context.Features.index_select(0, tensor(real, ScalarType.Int64, device));
        if (real.Length < kept.Length)
            rows = cat([rows, zeros([kept.Length - real.Length, context.Features.shape[1]], context.Features.dtype, device)], 0);
        return new PreLlmReduction(rows.MoveToOuterDisposeScope(), kept);
    }

    /// <summary>
    /// The output rows for features [N, H] and per-token attention: K entries, each a token index or −1 for a zero
    /// padding row (always at the end).
    /// </summary>
    public static long[] Select(Tensor features, IReadOnlyList<float> attention, int budget, int crops, double alpha = 0.09, double tau = 1.0)
    {
        int n = (int)features.shape[0];
        if (attention.Count != n) throw new ArgumentException($"HoloV: {attention.Count} attention scores for {n} tokens");
        if (crops < 1 || crops > n) throw new ArgumentOutOfRangeException(nameof(crops), $"HoloV: {crops} crops for {n} tokens");

        int baseSize = n / crops, remainder = n % crops;
        var starts = new int[crops];
        var sizes = new int[crops];
        for (int c = 0, start = 0; c < crops; c++)
        {
            starts[c] = start;
            sizes[c] = baseSize + (c < remainder ? 1 : 0);
            start += sizes[c];
        }

        var scores = new double[crops];
        using (NewDisposeScope())
        {
            var f = features.to(ScalarType.Float32);
            var normalized = f / (f.norm(1, keepdim: true) + 1e-6);
            for (int c = 0; c < crops; c++)
                scores[c] = CropScore(normalized.narrow(0, starts[c], sizes[c]), attention, starts[c], alpha);
        }

        var powered = scores.Select(s => Math.Pow(s, tau)).ToArray();
        double total = powered.Sum() + 1e-6;
        var weights = powered.Select(p => p / total).ToArray();
        var quota = weights.Select(w => (int)Math.Floor(w * budget)).ToArray();
        int left = budget - quota.Sum();
        foreach (int c in Enumerable.Range(0, crops).OrderByDescending(c => weights[c]).Take(Math.Min(Math.Max(left, 0), crops)))
            quota[c]++;

        var kept = new List<long>(budget);
        for (int c = 0; c < crops; c++)
        {
            var members = Enumerable.Range(starts[c], sizes[c]);
            if (quota[c] <= 0) continue;
            kept.AddRange(quota[c] >= sizes[c] ? members.Select(i => (long)i)
                : EncoderSignalMath.TopStable(members, attention, quota[c]).Select(i => (long)i));
        }
        while (kept.Count < budget) kept.Add(-1);
        return kept.Take(budget).ToArray();
    }

    /// <summary>The mean holistic score of one crop (normalized features [m, H]).</summary>
    static double CropScore(Tensor normalized, IReadOnlyList<float> attention, int start, double alpha)
    {
        int m = (int)normalized.shape[0];
        var a = Enumerable.Range(start, m).Select(i => (double)attention[i]).ToArray();
        if (m <= 1) return a.Average();
        var s = matmul(normalized, normalized.t()).cpu().data<float>().ToArray();
        var variance = new double[m];
        for (int i = 0; i < m; i++)
        {
            double mean = 0;
            for (int j = 0; j < m; j++) if (j != i) mean += s[i * m + j];
            mean /= m - 1;
            double v = 0;
            for (int j = 0; j < m; j++)
            {
                double d = (j == i ? 0 : s[i * m + j]) - mean;
                v += d * d;
            }
            variance[i] = v / (m - 1);
        }
        var scaled = a.Select(x => 1000 * x).ToArray();
        double gamma = scaled.Average(Math.Abs) / (variance.Average(Math.Abs) + 1e-6);
        return scaled.Select((x, i) => x + alpha * gamma * variance[i]).Average();
    }
}
