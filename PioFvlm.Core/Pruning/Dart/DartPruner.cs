using System.Diagnostics;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Dart;

/// <summary>
/// DART (Wen et al., EMNLP'25, "duplication matters more"; specs/baselines.md §7) inside the LLM, once, after
/// <see cref="AfterLayer"/> = K decoder layers (reference K = 2):
/// <list type="number">
/// <item>Pivot signal (layer K−1): the L1 norm, over all kv heads, of each token's key after RoPE, computed from layer
/// K−1's own input norm, k projection and RoPE on that layer's input hidden states. The pruner reads them when the
/// prefill loop calls it after K−1 layers (for K = 1 in <see cref="Begin"/>, on the embeddings) and returns the state
/// untouched; only the keys are
/// computed there (no queries, no attention: the layer keeps its fused attention). Under GQA the kv heads are not
/// repeated, which scales the norm by a constant and leaves the ranking unchanged.</item>
/// <item>Pivots: the top <see cref="ImagePivots"/> visual tokens and the top <see cref="TextPivots"/> tokens after the
/// last visual span, by that norm.</item>
/// <item>Duplication: cosine between layer K−1's outputs after the model's final norm (the state entering layer K).
/// For each pivot in turn (image pivots by descending norm, then text pivots by descending norm) the
/// TOPK = ⌊B / (ImagePivots + TextPivots)⌋ remaining visual tokens least similar to it are kept and leave the
/// candidates; image pivots are kept and are never candidates.</item>
/// </list>
/// Budget: B (<see cref="PruningStage.Budget"/> of the stage, the reference's <c>max_num_trunction</c>) keeps
/// |P_img| + Σ min(TOPK, candidates left), i.e. 4 + 8·⌊B/8⌋ with enough tokens: 68 / 132 / 196 for B = 64 / 128 / 192
/// (the published "64 / 128 / 192" rows, convention B_after). A result at or above the visual count prunes nothing.
/// Kept tokens stay in sequence order and keep their original position ids (the reference's KeepOriginal; the plan
/// chooses the policy). The stage's <see cref="DartStageReport"/> goes into <see cref="PrefillState.Stages"/> and the keys
/// read a layer early travel in <see cref="PrefillState.Scratch"/>: the pruner holds only its configuration.
/// Difference from the reference: it iterates the pivots in CPython set order (hash slots),
/// here they go in the documented order above; the picks differ only where two pivots compete for a token.
/// </summary>
public sealed class DartPruner : IPrefillPruner
{
    public const int ReferenceLayer = 2;
    public const int ReferencePivots = 4;

    /// <summary>The scratch between the two calls of a prefill: key L1 norms per position of a sequence of
    /// <paramref name="Length"/> positions.</summary>
    sealed record PivotKeys(double[] Norms, long Length);

    /// <summary>K: the pruning happens between layers K−1 and K (1-based count of layers run).</summary>
    public int AfterLayer => Stage.AfterLayer;
    public PruningStage Stage { get; }
    public int ImagePivots { get; }
    public int TextPivots { get; }

    public DartPruner(PruningStage stage, int imagePivots = ReferencePivots, int textPivots = ReferencePivots)
    {
        Stage = stage ?? throw new ArgumentNullException(nameof(stage));
        stage.Validate(int.MaxValue);
        if (imagePivots < 1 || textPivots < 0)
            throw new ArgumentOutOfRangeException(nameof(imagePivots), $"DART pivots: {imagePivots} image (at least 1), {textPivots} text (at least 0)");
        ImagePivots = imagePivots;
        TextPivots = textPivots;
    }

    /// <summary>The reference setting for a published row: K = 2, 4 + 4 pivots, max_num_trunction = <paramref name="budget"/>.</summary>
    public static DartPruner Llava15(int budget) => new(new PruningStage { AfterLayer = ReferenceLayer, Keep = budget });

    /// <summary>The DART pruner of a one-stage schedule (what the registry builds from a config).</summary>
    public static DartPruner FromSchedule(PruningSchedule schedule)
    {
        schedule.ValidateShape();
        if (schedule.Stages.Count != 1)
            throw new ArgumentException($"DART prunes once; schedule '{schedule.Name}' has {schedule.Stages.Count} intra-LLM stages");
        return new DartPruner(schedule.Stages[0]);
    }

    /// <summary>Visual tokens kept out of <paramref name="visual"/> for budget B when at least
    /// <see cref="TextPivots"/> tokens follow the image: min(N, |P_img| + (|P_img| + |P_txt|)·⌊B/8⌋).</summary>
    public int KeptCount(int visual, int budget)
    {
        int imageP = Math.Min(ImagePivots, visual);
        long picks = (long)(imageP + TextPivots) * (budget / (ImagePivots + TextPivots));
        return (int)Math.Min(visual, imageP + picks);
    }

    public void Validate(int layerCount) => Stage.Validate(layerCount);

    /// <summary>Starts a prefill; with K = 1 the pivot keys come from layer 0 on the embeddings, read here.</summary>
    public PrefillState Begin(PrefillState input, IDecoderStack decoder) => AfterLayer == 1 ? WithKeys(input, decoder) : input;

    public bool PrunesAfter(int layersDone) => layersDone == AfterLayer || (AfterLayer > 1 && layersDone == AfterLayer - 1);

    PrefillState WithKeys(PrefillState state, IDecoderStack decoder) =>
        state with { Scratch = new PivotKeys(KeyL1Norms(state, decoder, AfterLayer - 1), state.Length) };

    public PrefillState Prune(PrefillState state, IDecoderStack decoder)
    {
        if (state.LayersDone == AfterLayer - 1) return WithKeys(state, decoder);
        if (state.LayersDone != AfterLayer)
            throw new InvalidOperationException($"DART prunes after layer {AfterLayer}, not after {state.LayersDone}");
        if (state.Scratch is not PivotKeys keys || keys.Length != state.Length)
            throw new InvalidOperationException($"DART after layer {AfterLayer}: the keys of layer {AfterLayer - 1} were not read in this prefill " +
                                                $"(the loop must call Begin and the pruner after {AfterLayer - 1} layers, on the same sequence)");
        var keyNorms = keys.Norms;
        state = state with { Scratch = null };

        var clock = Stopwatch.StartNew();
        long[] pool = VisualTokens.Positions(state);
        int current = pool.Length;
        // B as the reference's max_num_trunction: not clamped to the visual count (B ≥ N keeps everything).
        int budget = Stage.Keep ?? (int)Math.Floor(Stage.Ratio!.Value * current);
        long lastVisual = state.VisualSpans.Count == 0 ? -1 : state.VisualSpans[^1].End - 1;
        var visualSet = new HashSet<long>(pool);
        long[] textAfter = Enumerable.Range(0, (int)state.Length).Select(p => (long)p).Where(p => p > lastVisual && !visualSet.Contains(p)).ToArray();
        int perPivot = budget / (ImagePivots + TextPivots);
        if (current == 0 || Math.Min(ImagePivots, current) + (long)(ImagePivots + TextPivots) * perPivot >= current)
            return state.WithStage(new DartStageReport
            {
                AfterLayer = AfterLayer, VisualBefore = current, VisualAfter = current, Pruned = false,
                KeptLocalIndices = PruningStageReport.AllOf(current),
            });

        using var scope = NewDisposeScope();
        var (imageP, textP) = DartSelection.Pivots(keyNorms, pool, textAfter, ImagePivots, TextPivots);
        long[] pivotPositions = imageP.Select(i => pool[i]).Concat(textP).ToArray();
        float[] cosine = PivotCosines(state, decoder, pivotPositions, pool);
        var selection = DartSelection.Choose(current, imageP, textP, (p, j) => cosine[p * current + j], perPivot);
        double selectMs = clock.Elapsed.TotalMilliseconds;
        var pruned = SequenceCut.Keep(state, pool, selection.Kept);
        return pruned.WithStage(new DartStageReport
        {
            AfterLayer = AfterLayer, VisualBefore = current, VisualAfter = selection.Kept.Length, Pruned = true,
            KeptLocalIndices = selection.Kept, SelectMs = selectMs, SurgeryMs = clock.Elapsed.TotalMilliseconds - selectMs,
            Selection = selection,
        });
    }

    /// <summary>L1 norm over kv heads and head dims of layer <paramref name="layer"/>'s post-RoPE keys, per position.</summary>
    public static double[] KeyL1Norms(PrefillState state, IDecoderStack decoder, int layer)
    {
        using var scope = NewDisposeScope();
        var decoderLayer = decoder.Layer(layer);
        var attention = decoderLayer.SelfAttention;
        var x = decoderLayer.InputLayernorm.forward(state.Hidden);
        long b = x.shape[0], s = x.shape[1];
        var k = attention.KProj.forward(x).view(b, s, attention.NumKvHeads, attention.HeadDim).transpose(1, 2);
        k = RotaryEmbedding.Apply(k, decoder.Rope(state.PositionIds, k.dtype));
        return k[0].abs().sum([0, 2]).to(ScalarType.Float64).cpu().data<double>().ToArray();
    }

    /// <summary>Cosines [pivots × V] (row-major, float32) between the pivots' and the visual tokens' hidden states after
    /// the final norm: one row per pivot, nothing else.</summary>
    static float[] PivotCosines(PrefillState state, IDecoderStack decoder, long[] pivotPositions, long[] pool)
    {
        using var scope = NewDisposeScope();
        var device = state.Hidden.device;
        Tensor Unit(long[] positions)
        {
            var rows = decoder.Norm(state.Hidden[0].index_select(0, tensor(positions, ScalarType.Int64, device))).to(ScalarType.Float32);
            return rows / rows.norm(1, keepdim: true).clamp_min(1e-8);
        }
        return Unit(pivotPositions).matmul(Unit(pool).t()).cpu().contiguous().data<float>().ToArray();
    }
}
