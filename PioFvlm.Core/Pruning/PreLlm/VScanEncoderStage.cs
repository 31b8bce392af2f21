using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.PreLlm;

/// <summary>
/// VScan's vision-encoder stage (github Tencent/SelfEvolvingAgent/VScan, reused verbatim by PIO-FVLM/TRIO as its
/// "w/ VE" stage; specs/pio-fvlm.md §6.1): a text-agnostic global/local [CLS] scan, then token merging. Per image,
/// with budget T and N = grid × grid patches:
/// <list type="number">
/// <item>T ≥ N: keep everything, no merging (the reference tests T == 576).</item>
/// <item>Local half: the CLS attention row of CLIP layer <see cref="ShallowLayer"/> (5; patch columns, mean over
/// heads) viewed as the patch grid and cut into 4 × 4 windows (6 × 6 patches each on LLaVA's 24 × 24 grid); each window
/// gives its top k = ⌊⌊T/2⌋ / 16⌋, so 16k ≤ T/2 tokens.</item>
/// <item>Global half: the CLS row of layer <see cref="DeepLayer"/> (−2, i.e. HF <c>attentions[−2]</c> = layer 22 of
/// 0..23, the attention inside the layer whose output LLaVA's features are); the local picks are excluded and the
/// top T − ⌊T/2⌋ of the rest are taken. So T = 100 keeps 48 + 50 = 98 tokens, as the reference does.</item>
/// <item>Union in raster order; every dropped token is merged into its most cosine-similar kept token in projected
/// space (<see cref="TokenMerging.MergeIntoNearest"/>).</item>
/// </list>
/// Differences from the reference, all invisible on fp32 inputs without ties: ties are broken stably (the lower
/// patch index first) where torch.topk leaves them unspecified; the reference sets the local picks' deep scores to 0
/// and takes a plain top-k, which could pick one again only if ≥ T − ⌊T/2⌋ other scores were exactly 0 (fp16
/// underflow), while here they are excluded outright. Grids whose side is not a multiple of 4 (the reference asserts
/// 24 × 24) use windows of ⌊side/4⌋ patches with the leftover rows and columns folded into the last window, as VScan's
/// Qwen2.5-VL code does; a window smaller than k gives all its patches.
/// <para>
/// On a CLS-free tower (Qwen2.5-VL; specs/pio-fvlm.md §6.2, VScan's Qwen code) the stage reads, instead of CLS rows,
/// the attention each merged token <i>receives</i> in the first and the last full-attention block (blocks 7 and 31 of
/// the 7B's 32; 1 and 3 of the test tower's 4): per head softmax(Q · Kᵀ / √d) over the image, summed over heads,
/// averaged over all query rows and over the token's 2 × 2 merge unit (<see cref="IVisionSignals.ReceivedAttention"/>).
/// Local half: <see cref="SelectByReceivedAttention"/> walks the tokens by descending first-block score and accepts a
/// token while its window (<see cref="ReceivedAttentionWindow"/> × <see cref="ReceivedAttentionWindow"/> merged tokens,
/// 112 px on the 7B, leftover rows and columns folded into the last window) holds fewer than ⌈⌊T/2⌋ / #windows⌉,
/// until ⌊T/2⌋ are taken. Global half: the top T − ⌊T/2⌋ of the rest by last-block score. Then the same merging; kept
/// rows stay the original tokens' rows, so Qwen keeps their original (t, h, w) positions. A grid side shorter than a
/// window gives one window along it (the reference would divide by zero windows).
/// </para>
/// </summary>
public sealed class VScanEncoderStage : IPreLlmReducer
{
    /// <summary>Windows per grid side (16 windows in all).</summary>
    public const int WindowsPerSide = 4;

    /// <summary>Window side in merged tokens for the CLS-free rule (the reference's <c>window_size=4</c>).</summary>
    public const int ReceivedAttentionWindow = 4;

    public int Budget { get; }
    public int ShallowLayer { get; }
    public int DeepLayer { get; }

    /// <param name="budget">T, the tokens to keep per image (at least 1).</param>
    /// <param name="shallowLayer">The local scan's CLIP layer (HF <c>attentions</c> index; reference 5).</param>
    /// <param name="deepLayer">The global scan's layer (reference −2, resolved against the tower's depth).</param>
    public VScanEncoderStage(int budget, int shallowLayer = 5, int deepLayer = -2)
    {
        if (budget < 1)
            throw new ArgumentOutOfRangeException(nameof(budget), $"VScan budget T = {budget}: at least one token must be kept (merging needs a target)");
        Budget = budget;
        ShallowLayer = shallowLayer;
        DeepLayer = deepLayer;
        Signals = new VisionSignalRequest { ClsAttentionLayers = [shallowLayer, deepLayer] };
    }

    public VisionSignalRequest Signals { get; }

    /// <summary>CLIP: <see cref="Signals"/>; a CLS-free tower: the received attention of its first and last
    /// full-attention layers.</summary>
    public VisionSignalRequest SignalsFor(VisionTowerInfo tower)
    {
        if (tower.HasCls) return Signals;
        var (first, last) = ReceivedAttentionLayers(tower);
        return new VisionSignalRequest { ReceivedAttentionLayers = [first, last] };
    }

    /// <summary>The first and the last full-attention layer of a CLS-free tower.</summary>
    static (int First, int Last) ReceivedAttentionLayers(VisionTowerInfo tower) =>
        tower.FullAttentionLayers.Count == 0
            ? throw new NotSupportedException($"VScan on a CLS-free tower reads the received attention of full-attention layers, and this {tower.Layers}-layer tower has none")
            : (tower.FullAttentionLayers.Min(), tower.FullAttentionLayers.Max());

    public PreLlmReduction Reduce(VisionStageContext context)
    {
        var signals = context.Signals;
        long n = context.TokenCount;
        if (signals.FeaturesIncludeCls)
            throw new NotSupportedException($"VScan's encoder stage works on patch tokens only; image {context.ImageIndex} has CLS among its features (vision_feature_select_strategy 'full')");
        if (n != (long)signals.GridHeight * signals.GridWidth)
            throw new ArgumentException($"image {context.ImageIndex}: {n} feature rows for a {signals.GridHeight} × {signals.GridWidth} patch grid");
        if (Budget >= n)
            return new PreLlmReduction(context.Features.alias(), Enumerable.Range(0, (int)n).Select(i => (long)i).ToArray());

        VScanSelection selection;
        if (signals.Tower.HasCls)
            selection = Select(HeadMean(signals.ClsAttention(ShallowLayer)), HeadMean(signals.ClsAttention(DeepLayer)),
                signals.GridHeight, signals.GridWidth, Budget);
        else
        {
            var (first, last) = ReceivedAttentionLayers(signals.Tower);
            selection = SelectByReceivedAttention(EncoderSignalMath.ReduceHeads(signals.ReceivedAttention(first), sum: true),
                EncoderSignalMath.ReduceHeads(signals.ReceivedAttention(last), sum: true), signals.GridHeight, signals.GridWidth, Budget);
        }
        return new PreLlmReduction(TokenMerging.MergeIntoNearest(context.Features, selection.Kept), selection.Kept);
    }

    /// <summary>
    /// The selection on per-patch scores (raster order, length gridHeight · gridWidth): local window picks on
    /// <paramref name="shallow"/>, global picks on <paramref name="deep"/>, and their union.
    /// </summary>
    public static VScanSelection Select(IReadOnlyList<float> shallow, IReadOnlyList<float> deep, int gridHeight, int gridWidth, int budget)
    {
        int n = gridHeight * gridWidth;
        if (shallow.Count != n || deep.Count != n)
            throw new ArgumentException($"scores have {shallow.Count} (shallow) and {deep.Count} (deep) entries for a {gridHeight} × {gridWidth} grid");
        if (gridHeight < WindowsPerSide || gridWidth < WindowsPerSide)
            throw new ArgumentException($"a {gridHeight} × {gridWidth} patch grid is too small for {WindowsPerSide} × {WindowsPerSide} windows");
        if (budget < 0) throw new ArgumentOutOfRangeException(nameof(budget), $"budget {budget} is negative");
        if (budget >= n)
        {
            var all = Enumerable.Range(0, n).Select(i => (long)i).ToArray();
            return new VScanSelection([], [], all);
        }

        int localBudget = budget / 2;
        int perWindow = localBudget / (WindowsPerSide * WindowsPerSide);
        var local = new List<long>();
        for (int wy = 0; wy < WindowsPerSide; wy++)
            for (int wx = 0; wx < WindowsPerSide; wx++)
            {
                var (r0, r1) = WindowSpan(wy, gridHeight);
                var (c0, c1) = WindowSpan(wx, gridWidth);
                var window = Enumerable.Range(r0, r1 - r0)
                    .SelectMany(r => Enumerable.Range(c0, c1 - c0).Select(c => r * gridWidth + c));
                local.AddRange(TopStable(window, shallow, perWindow));
            }

        var isLocal = new HashSet<long>(local);
        var global = TopStable(Enumerable.Range(0, n).Where(i => !isLocal.Contains(i)), deep, budget - localBudget).ToArray();
        var kept = local.Concat(global).Order().ToArray();
        return new VScanSelection(local.ToArray(), global, kept);
    }

    /// <summary>
    /// The CLS-free (Qwen2.5-VL) selection on per-token scores (raster order of the merged grid): local picks walking
    /// <paramref name="local"/> in descending order (equal scores: lower index first) with at most
    /// ⌈⌊budget/2⌋ / #windows⌉ per window of <paramref name="window"/> × <paramref name="window"/> tokens, then the top
    /// budget − ⌊budget/2⌋ of the rest by <paramref name="global"/>. <see cref="VScanSelection.Local"/> is in the order
    /// accepted.
    /// </summary>
    public static VScanSelection SelectByReceivedAttention(IReadOnlyList<float> local, IReadOnlyList<float> global, int gridHeight, int gridWidth,
                                                           int budget, int window = ReceivedAttentionWindow)
    {
        int n = gridHeight * gridWidth;
        if (local.Count != n || global.Count != n)
            throw new ArgumentException($"scores have {local.Count} (local) and {global.Count} (global) entries for a {gridHeight} × {gridWidth} token grid");
        if (budget < 0) throw new ArgumentOutOfRangeException(nameof(budget), $"budget {budget} is negative");
        if (window < 1) throw new ArgumentOutOfRangeException(nameof(window), $"window side {window} must be positive");
        if (budget >= n)
            return new VScanSelection([], [], Enumerable.Range(0, n).Select(i => (long)i).ToArray());

        int localBudget = budget / 2;
        int down = Math.Max(1, gridHeight / window), across = Math.Max(1, gridWidth / window);
        int limit = (localBudget + down * across - 1) / (down * across);
        var taken = new int[down * across];
        var picks = new List<long>(localBudget);
        foreach (int i in Enumerable.Range(0, n).OrderByDescending(i => local[i]))
        {
            if (picks.Count >= localBudget) break;
            int w = Math.Min(i / gridWidth / window, down - 1) * across + Math.Min(i % gridWidth / window, across - 1);
            if (taken[w] >= limit) continue;
            taken[w]++;
            picks.Add(i);
        }
        var isLocal = new HashSet<long>(picks);
        var globalPicks = TopStable(Enumerable.Range(0, n).Where(i => !isLocal.Contains(i)), global, budget - localBudget).ToArray();
        return new VScanSelection(picks.ToArray(), globalPicks, picks.Concat(globalPicks).Order().ToArray());
    }

    /// <summary>Rows (or columns) [start, end) of window <paramref name="w"/>; the last window takes the remainder.</summary>
    static (int Start, int End) WindowSpan(int w, int side)
    {
        int size = side / WindowsPerSide;
        return (w * size, w == WindowsPerSide - 1 ? side : (w + 1) * size);
    }

    /// <summary>The <paramref name="k"/> highest-scoring candidates, by descending score; equal scores keep the
    /// candidates' order (ascending index), as a stable sort does.</summary>
    static IEnumerable<long> TopStable(IEnumerable<int> candidates, IReadOnlyList<float> scores, int k) =>
        candidates.OrderByDescending(i => scores[i]).Take(k).Select(i => (long)i);

    static float[] HeadMean(Tensor perHead)
    {
        using var _ = NewDisposeScope();
        return perHead.to(ScalarType.Float32).mean([0]).cpu().data<float>().ToArray();
    }
}
