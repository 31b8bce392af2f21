using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning.Dart;
using PioFvlm.Core.Pruning.PreLlm;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Core.Pruning.Selectors;

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
/// <param name="WholePruner">An intra-LLM method that is not a scorer + selector and builds its own
/// <see cref="IPrefillPruner"/> (<see cref="PruningRegistry.CreatePruner"/>), e.g. DART.</param>
/// <param name="Positions">The method's official position policy, used when a config names none.</param>
public sealed record PruningMethodInfo(string Name, PruningMethodKind Kind, string Description, string Defaults,
                                       bool WholePruner = false, PositionPolicy Positions = PositionPolicy.Compact);

/// <summary>Settings an intra-LLM method may read; each method documents which.</summary>
public sealed record IntraMethodSettings
{
    public GradientSaliencyOptions Saliency { get; init; } = GradientSaliencyOptions.Llava;
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
        new("KeepAll", PruningMethodKind.IntraLlm, "no pruning (the unpruned reference inside one harness)", ""),
        new("VScan", PruningMethodKind.PreLlm,
            "the reference's w/ VE stage: CLS attention of CLIP layers 5 (local 4x4 windows) and -2 (global), then merging",
            "layers 5 and -2, merge dropped tokens into the most similar kept token"),
        new("DART", PruningMethodKind.IntraLlm,
            "DART: pivots by key L1 norm of layer K-1 (4 image + 4 text), keep the tokens least cosine-duplicated to them",
            "AfterLayer 2, Keep = max_num_trunction B -> 4 + 8*floor(B/8) kept (68/132/196 for 64/128/192), KeepOriginal positions",
            WholePruner: true, Positions: PositionPolicy.KeepOriginal),
        new("DivPrune", PruningMethodKind.PreLlm,
            "DivPrune: greedy max-min cosine diversity over the projected visual tokens (text-agnostic, no merging)",
            "Keep = B tokens per image (64 / 128 / 192 on LLaVA-1.5), first pick = farthest nearest neighbour"),
        new("DivPruneLlm", PruningMethodKind.IntraLlm,
            "DivPrune's max-min diversity selection on the hidden states at an intra-LLM stage (scores unused)",
            "exactly Keep tokens; not a published placement (DivPrune acts before the LLM)"),
    ];

    public static PruningMethodInfo Get(string name) =>
        Methods.FirstOrDefault(m => m.Name == name)
        ?? throw new KeyNotFoundException($"unknown pruning method '{name}' (known: {string.Join(", ", Methods.Select(m => m.Name))})");

    /// <summary>The scorer and selector of an intra-LLM method.</summary>
    public static (ISaliencyScorer Scorer, ITokenSelector Selector) CreateIntra(string name, IntraMethodSettings settings)
    {
        var info = Get(name);
        if (info.Kind != PruningMethodKind.IntraLlm || name == "KeepAll" || info.WholePruner)
            throw new ArgumentException($"pruning method '{name}' does not score tokens inside the LLM");
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

    /// <summary>The whole intra-LLM pruner of a method that is not a scorer + selector (<see cref="PruningMethodInfo.WholePruner"/>).</summary>
    public static IPrefillPruner CreatePruner(string name, PruningSchedule schedule, IntraMethodSettings settings)
    {
        var info = Get(name);
        if (!info.WholePruner)
            throw new ArgumentException($"pruning method '{name}' is a scorer + selector; use CreateIntra");
        return name switch
        {
            "DART" => DartPruner.FromSchedule(schedule),
            _ => throw new InvalidOperationException($"registry entry '{name}' has no factory"),
        };
    }

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
            _ => throw new InvalidOperationException($"registry entry '{name}' has no factory"),
        };
    }
}
