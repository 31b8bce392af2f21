using PioFvlm.Core.Pruning;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Eval.Runner;

/// <summary>Which checkpoint to load and how (section <c>Run:Model</c>).</summary>
public sealed record ModelOptions
{
    public string Path { get; init; } = "";
    /// <summary>Weight dtype (<see cref="Commands.DTypeNames"/>: Float32, BFloat16, Float16).</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;
    public string Device { get; init; } = "cpu";
    /// <summary>The CLIP folder of a research-layout checkpoint; null for HF layouts.</summary>
    public string? VisionTower { get; init; }
}

/// <summary>The questions to answer (section <c>Run:Eval</c>).</summary>
public sealed record EvalOptions
{
    /// <summary>LLaVA question jsonl (one <c>{"question_id","image","text",...}</c> per line).</summary>
    public string Dataset { get; init; } = "";
    /// <summary>Folder the questions' <c>image</c> names are resolved under; null = the question file's folder.</summary>
    public string? ImageFolder { get; init; }
    public int MaxNewTokens { get; init; } = 16;
    /// <summary>The question file's format: LlavaJsonl (default), MmBenchTsv, ScienceQaJson.</summary>
    public EvalInputFormat Format { get; init; } = EvalInputFormat.LlavaJsonl;
    /// <summary>Skip malformed question lines (each reported on stderr with file and line) instead of stopping.</summary>
    public bool SkipMalformed { get; init; }
    /// <summary>Scorer name (pope, textvqa, vqav2, gqa, mme, scienceqa, mmbench; see <c>pio-fvlm score</c>); null = match
    /// each answer against the question file's <c>answer</c>/<c>label</c> field (yes/no on the first word).</summary>
    public string? Benchmark { get; init; }
    /// <summary>The scorer's ground truth (file or folder, as <c>pio-fvlm score --annotations</c> takes it).</summary>
    public string? Annotations { get; init; }
    /// <summary>Answer only the first N questions (of this shard).</summary>
    public int? Limit { get; init; }
    /// <summary><c>i/n</c>: answer questions whose index ≡ i (mod n).</summary>
    public string? Shard { get; init; }
}

/// <summary>Where answers and reports go (section <c>Run:Output</c>).</summary>
public sealed record OutputOptions
{
    public string Directory { get; init; } = "";
}

/// <summary>One method of the run: its name, the canonical JSON it was given ("KeepAll" for the reference) and its plan.</summary>
public sealed record MethodSpec(string Name, string CanonicalJson, PruningPlan Plan)
{
    /// <summary>For a control that needs the question's ground truth (<see cref="OracleMethod"/>): its plan for the given
    /// relevant visual tokens, which the runner builds per question; null for every real method, which gets
    /// <see cref="Plan"/> and never sees the ground truth.</summary>
    public Func<IReadOnlyList<long>, PruningPlan>? GroundTruthPlan { get; init; }
}

/// <summary>The fully resolved run (paths absolute, methods parsed, KeepAll first).</summary>
public sealed record RunOptions
{
    public required ModelOptions Model { get; init; }
    public required IReadOnlyList<MethodSpec> Methods { get; init; }
    public required EvalOptions Eval { get; init; }
    public required OutputOptions Output { get; init; }

    /// <summary>(index, count) of <see cref="EvalOptions.Shard"/>, or (0, 1).</summary>
    public (int Index, int Count) Shard => RunConfigLoader.ParseShard(Eval.Shard, "Run:Eval:Shard");
}
