using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning.Attention;
using PioFvlm.Core.Pruning.Dart;
using PioFvlm.Core.Pruning.PreLlm;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Core.Pruning.Selectors;
using PioFvlm.Core.Pruning.SparseVlm;

namespace PioFvlm.Core.Pruning;

/// <summary>Where a method acts.</summary>
public enum PruningMethodKind
{
    /// <summary>After the projector, before the image features enter the sequence (per image).</summary>
    PreLlm,
    /// <summary>Between decoder layers during prefill.</summary>
    IntraLlm,
}

/// <summary>A registered method: its name, where it acts, what it does and its defaults.</summary>
public sealed record PruningMethodInfo(string Name, PruningMethodKind Kind, string Description, string Defaults);

/// <summary>Settings an intra-LLM method may read; each method documents which.</summary>
public sealed record IntraMethodSettings
{
    public GradientSaliencyOptions Saliency { get; init; } = new();
    public bool Nms { get; init; } = true;
    public double NmsThreshold { get; init; } = FeatureNms.DefaultThreshold;
    public long Seed { get; init; }
}

/// <summary>The pruning methods by name (the registry the configs and the CLI resolve against).</summary>
public static class PruningRegistry
{
    public static IReadOnlyList<PruningMethodInfo> Methods { get; } =
    [
        new("PioFvlm", PruningMethodKind.IntraLlm,
            "PIO-FVLM: gradient saliency of a layer-local proxy loss, then saliency-ordered feature NMS",
            "probe Cheap (exact), window S-5..S-2, head final norm + LM head, NMS tau 0.8, stable sort"),
        new("FeatureNorm", PruningMethodKind.IntraLlm, "control: L2 norm of the hidden state as the score, same selector", "NMS tau 0.8"),
        new("Random", PruningMethodKind.IntraLlm, "control: seeded random scores, same selector", "Seed 0, NMS tau 0.8"),
        new("FastV", PruningMethodKind.IntraLlm,
            "FastV: head-mean attention of the last prompt token to each visual token in layer K-1 (on its own input), top-k, original order",
            "K = AfterLayer (paper 2; needs K-1 >= 0), plain top-k (Nms ignored), positions KeepOriginal; B_avg presets K=2 keep 30/98/166 for 64/128/192"),
        new("PDrop", PruningMethodKind.IntraLlm,
            "PyramidDrop: at each stage, head-mean attention of the last instruction token to each visual token with the next layer's norm/q/k/RoPE, top-k",
            "plain top-k (Nms ignored), positions Compact (renumber); presets layers [2,6,16] keep [66,30,17] / [303,110,36] / [300,200,110] for 64/128/192"),
        new("SparseVLM", PruningMethodKind.IntraLlm,
            "SparseVLM v1.5: text raters chosen from the embeddings; rater rows of the pruning layer's attention score the visual " +
            "tokens; dropped tokens recycled by DPC-KNN clustering (a whole pruner: CreatePruner)",
            "layers 2/6/15 (AfterLayer 3/7/16), keep 66/30/17 (64), 303/110/36 (128), 300/200/110 (192), recycling on, Compact positions"),
        new("KeepAll", PruningMethodKind.IntraLlm, "no pruning (the unpruned reference inside one harness)", ""),
        new("VScan", PruningMethodKind.PreLlm,
            "the reference's w/ VE stage: CLS attention of CLIP layers 5 (local 4x4 windows) and -2 (global), then merging; on " +
            "Qwen2.5-VL (no CLS) VScan's Qwen rule: received attention per merged token of the first (local, windows of 4x4 tokens " +
            "with a per-window quota) and last (global) full-attention blocks",
            "layers 5 and -2 (Qwen: full-attention blocks 7 and 31), merge dropped tokens into the most similar kept token"),
        new("DART", PruningMethodKind.IntraLlm,
            "DART: pivots by key L1 norm of layer K-1 (4 image + 4 text), keep the tokens least cosine-duplicated to them",
            "AfterLayer 2, Keep = max_num_trunction B -> 4 + 8*floor(B/8) kept (68/132/196 for 64/128/192), KeepOriginal positions"),
        new("DivPrune", PruningMethodKind.PreLlm,
            "DivPrune: greedy max-min cosine diversity over the projected visual tokens (text-agnostic, no merging)",
            "Keep = B tokens per image (64 / 128 / 192 on LLaVA-1.5), first pick = farthest nearest neighbour"),
        new("DivPruneLlm", PruningMethodKind.IntraLlm,
            "DivPrune's max-min diversity selection on the hidden states at an intra-LLM stage (scores unused)",
            "exactly Keep tokens; not a published placement (DivPrune acts before the LLM)"),
        new("VisionZip", PruningMethodKind.PreLlm,
            "VisionZip: CLS + top patches by CLS attention of CLIP layer -2 (dominant), the rest merged by key similarity (contextual)",
            "layer -2, Keep B = dominant (CLS included) + contextual, contextual = round(5B/32): 54+10, 108+20, 162+30; " +
            "Qwen (adapted, no CLS): dominant by received attention of the last full-attention block (merge-unit mean), contextual merged " +
            "on the merged tokens, a contextual token at its target's (t, h, w), raster order"),
        new("SCOPE", PruningMethodKind.PreLlm,
            "SCOPE: greedy saliency x coverage (facility location on cosine of CLIP layer -2 patch states, times CLS attention)",
            "layer -2, alpha 1, CLS attention summed over heads, raster order, no merging; " +
            "Qwen (adapted): received attention of the last full-attention block, cosine of the merged tokens"),
        new("HoloV", PruningMethodKind.PreLlm,
            "HoloV: per-crop holistic scores (CLS attention + similarity variance) set crop quotas; top CLS attention within a crop",
            "layer -2 head mean, crops max(1, 1024N/(576K)) = 16/8/5 at 64/128/192, alpha 0.09, tau 1, zero padding, crop order; " +
            "Qwen (its own code): received attention of the last block, raster-ordered scores, padding dropped"),
        new("CDPruner", PruningMethodKind.PreLlm,
            "CDPruner: greedy MAP of a conditional DPP, kernel r_i cos(v_i, v_j) r_j on the projected tokens; relevance r = min-max of " +
            "-cos(v_i, t), t = mean LLM input embedding of the instruction (adaptation: the reference uses CLIP's text tower, absent from LLaVA)",
            "Keep = B tokens per image (64 / 128 / 192 on LLaVA-1.5), reference sign (negated relevance), float64 greedy, raster order"),
        new("VisPruner", PruningMethodKind.PreLlm,
            "VisPruner: floor(B r) important patches by CLS attention of CLIP layer -2 (head mean), the rest by rounds of even/odd " +
            "bipartite matching on layer -2 features that drop the 8 most duplicated",
            "r = 0.5: 32+32, 64+64, 96+96 for 64/128/192; stable sorts, raster order, no merging; " +
            "Qwen (adapted): received attention of the last full-attention block, cosine of the merged tokens"),
        new("HiPrune", PruningMethodKind.PreLlm,
            "HiPrune: anchors = top global attention (mean over heads and queries) of the object layer, buffers = their 4-neighbours, " +
            "registers = top global attention of layer -2 for the rest",
            "alpha 0.1 -> anchors round(B alpha / 5) = 1/3/4 (<= 5/15/20 with buffers) for 64/128/192, object layer 9 of 24 (round(9L/24) otherwise); " +
            "Qwen (its own code): received attention of block 16 of 32 (1-based) and of the last block"),
        new("Downsample", PruningMethodKind.PreLlm,
            "control: average-pool the grid of projected tokens to the grid nearest the budget (per image or crop)",
            "side round(H sqrt(B/HW)): 8x8 = 64, 11x11 = 121, 14x14 = 196 for 64/128/192 on 24x24; kept index -1 (pooled)"),
    ];

    public static PruningMethodInfo Get(string name) =>
        Methods.FirstOrDefault(m => m.Name == name)
        ?? throw new KeyNotFoundException($"unknown pruning method '{name}' (known: {string.Join(", ", Methods.Select(m => m.Name))})");

    /// <summary>The position policy a method's reference uses (spec baselines §2.3): KeepOriginal for FastV and DART, Compact otherwise.</summary>
    public static PositionPolicy DefaultPositions(string name) => Get(name).Name is "FastV" or "DART" ? PositionPolicy.KeepOriginal : PositionPolicy.Compact;
    /// <summary>Intra-LLM methods that are whole pruners (not scorer + selector): build them with <see cref="CreatePruner"/>.</summary>
    public static bool IsWholePruner(string name) => name is "SparseVLM" or "DART";

    /// <summary>A whole intra-LLM pruner running <paramref name="schedule"/> (stages in the engine's AfterLayer convention).</summary>
    public static IPrefillPruner CreatePruner(string name, PruningSchedule schedule)
    {
        Get(name);
        return name switch
        {
            "SparseVLM" => new SparseVlmPruner(schedule),
            "DART" => DartPruner.FromSchedule(schedule),
            _ => throw new ArgumentException($"pruning method '{name}' is not a whole pruner; use CreateIntra for its scorer and selector"),
        };
    }

    /// <summary>The scorer and selector of an intra-LLM method.</summary>
    public static (ISaliencyScorer Scorer, ITokenSelector Selector) CreateIntra(string name, IntraMethodSettings settings)
    {
        var info = Get(name);
        if (info.Kind != PruningMethodKind.IntraLlm || name == "KeepAll")
            throw new ArgumentException($"pruning method '{name}' does not score tokens inside the LLM");
        if (name is "FastV") return (new FastVScorer(), new TopKSelector());
        if (name is "PDrop") return (new PDropScorer(), new TopKSelector());
        if (IsWholePruner(name))
            throw new ArgumentException($"pruning method '{name}' is a whole pruner, not a scorer + selector; use CreatePruner");
        if (name == "DivPruneLlm") return (new FeatureNormScorer(), new DivPruneSelector());
        ITokenSelector selector = settings.Nms ? new FeatureNms(settings.NmsThreshold) : new TopKSelector();
        ISaliencyScorer scorer = name switch
        {
            "PioFvlm" => new GradientSaliency(settings.Saliency),
            "FeatureNorm" => new FeatureNormScorer(),
            "Random" => new RandomScorer(settings.Seed),
            _ => throw new InvalidOperationException($"registry entry '{name}' has no factory"),
        };
        return (scorer, selector);
    }

    /// <summary>A pre-LLM reducer keeping <paramref name="budget"/> tokens per image: a count as is, a ratio resolved
    /// on each image's own count (<see cref="PerImageBudgetReducer"/>).</summary>
    public static IPreLlmReducer CreatePreLlm(string name, TokenBudget budget) =>
        budget.Count is int keep ? CreatePreLlm(name, keep) : new PerImageBudgetReducer(budget, k => CreatePreLlm(name, k));

    /// <summary>A pre-LLM reducer keeping <paramref name="keep"/> tokens per image.</summary>
    public static IPreLlmReducer CreatePreLlm(string name, int keep)
    {
        var info = Get(name);
        if (info.Kind != PruningMethodKind.PreLlm)
            throw new ArgumentException($"pruning method '{name}' acts inside the LLM, not before it (pre-LLM methods: " +
                                        $"{string.Join(", ", Methods.Where(m => m.Kind == PruningMethodKind.PreLlm).Select(m => m.Name))})");
        return name switch
        {
            "VScan" => new VScanEncoderStage(keep),
            "DivPrune" => new DivPruneStage(keep),
            "VisionZip" => VisionZip.ForBudget(keep),
            "SCOPE" => new Scope(keep),
            "HoloV" => new HoloV(keep),
            "CDPruner" => new CdPruner(keep),
            "VisPruner" => new VisPruner(keep),
            "HiPrune" => new HiPrune(keep),
            "Downsample" => new Downsample(keep),
            _ => throw new InvalidOperationException($"registry entry '{name}' has no factory"),
        };
    }
}
