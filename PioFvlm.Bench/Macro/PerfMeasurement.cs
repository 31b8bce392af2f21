namespace PioFvlm.Bench.Macro;

/// <summary>
/// Everything one <c>measure-llava-7b-prefill --json</c> run measured, in one process and one model build: the machine,
/// the one-layer cost curve (layer 0 of the built model), every schedule's prefill and decode, and the pruner pieces.
/// <see cref="PerformanceReport"/> renders it; nothing in the report is measured anywhere else.
/// </summary>
/// <param name="Shape">"LLaVA-1.5-7B" for the real run, "smoke" for the tiny pipeline check.</param>
/// <param name="Repeats">Prefill runs per schedule; the fastest counts (the machine is shared, noise only adds time).</param>
/// <param name="CostCurveMs">One decoder layer's median ms by token count.</param>
/// <param name="PhaseSeconds">Wall time of each part of the run (build, curve, schedules, pieces), in order.</param>
/// <param name="PeakRssBytes">The process's native peak resident set (VmHWM), which managed counters do not see.</param>
public sealed record PerfMeasurement(
    string Shape,
    MachineInfo Machine,
    int Layers,
    long VisualTokens,
    int TextTokens,
    int Repeats,
    IReadOnlyDictionary<int, double> CostCurveMs,
    IReadOnlyList<ScheduleRow> Rows,
    PieceTimes? Pieces,
    IReadOnlyDictionary<string, double> PhaseSeconds,
    long PeakRssBytes)
{
    /// <summary>The model's name (the smoke run's too, whose <see cref="Shape"/> is "smoke"); null in older files.</summary>
    public string? Model { get; init; }

    /// <summary>The prompt image's size as "WxH" when one was given (NeXT and Qwen counts depend on it); null = the family default.</summary>
    public string? Image { get; init; }

    /// <summary>Positions of the unpruned prompt (LLaVA-NeXT's newline rows and Qwen's vision markers included); 0 in older files.</summary>
    public long SequenceLength { get; init; }

    /// <summary>The script that ran the measurement (null = scripts/perf_report.sh).</summary>
    public string? Script { get; init; }

    /// <summary>A decode step taken apart op by op, per matmul route (--decode-breakdown); null when not measured.</summary>
    public DecodeProfile? Decode { get; init; }
}

/// <summary>One schedule's fastest run of <see cref="PerfMeasurement.Repeats"/>, and its decode afterwards.</summary>
/// <param name="SequencePerLayer">Positions each decoder layer processed (the speed-of-light input).</param>
/// <param name="EncodeMs">Vision tower + projector, plus the pre-LLM selection for schedules that have one.</param>
/// <param name="ReduceMs">The pre-LLM selection alone (pruning work, part of the paper's prefill).</param>
/// <param name="DecoderMs">All decoder layers plus the intra-LLM pruning work (<see cref="PruningMs"/>).</param>
/// <param name="DecodeTokens">Decode steps timed after the prefill (each one token through all layers and the LM head).</param>
public sealed record ScheduleRow(
    string Name,
    long VisualIn,
    long VisualOut,
    double AverageVisual,
    IReadOnlyList<long> SequencePerLayer,
    double EncodeMs,
    double ReduceMs,
    double DecoderMs,
    double PruningMs,
    long KvBytes,
    long PaperFlops,
    long ExactFlops,
    int DecodeTokens,
    double DecodeMs,
    bool Finite)
{
    /// <summary>The paper's prefill: decoder layers plus all pruning work (pre-LLM selection included), vision excluded.</summary>
    public double PrefillMs => DecoderMs + ReduceMs;

    /// <summary>Image in, first token's logits out: vision tower, projector, selection, decoder.</summary>
    public double EndToEndMs => EncodeMs + DecoderMs;

    /// <summary>The vision tower and projector (or merger) alone: <see cref="EncodeMs"/> less the pre-LLM selection.</summary>
    public double VisionMs => EncodeMs - ReduceMs;

    /// <summary>All pruning work of the prefill: intra-LLM probes and selections plus the pre-LLM selection.</summary>
    public double PruningWorkMs => PruningMs + ReduceMs;

    public double DecodeTokensPerSecond => DecodeTokens > 0 && DecodeMs > 0 ? DecodeTokens * 1000.0 / DecodeMs : 0;

    /// <summary>The decode rows of this schedule, one per matmul route, when it was one of --decode-rows; else null.</summary>
    public IReadOnlyList<DecodeRow>? DecodeRoutes { get; init; }
}

/// <summary><paramref name="Tokens"/> greedy decode steps of one schedule through one matmul route (oneDNN, or ATen's gemv
/// via <see cref="Core.Runtime.OneRowGemv"/>), timed in blocks alternating with the other route on the same cache.</summary>
/// <param name="EffectiveGBps">Weight bytes a step reads × steps / time.</param>
public sealed record DecodeRow(string Schedule, string Route, bool AtenGemv, int Tokens, double Ms, double TokensPerSecond, double EffectiveGBps);

/// <summary>The pruner's pieces at the model's shape, on the full prompt after layer 1.</summary>
/// <param name="Sequence">Positions the probe and the layer forward saw.</param>
/// <param name="LayerForwardMs">One decoder layer forward over the full prompt (no grad), the unit of probe cost.</param>
/// <param name="ProbeCheapAllValuesMs">The cheap probe with V projected for every position (before the value fold); null in
/// measurements older than it.</param>
public sealed record PieceTimes(long Sequence, double LayerForwardMs, double ProbeFullMs, double ProbeCheapMs, IReadOnlyList<NmsTiming> Nms,
                                double? ProbeCheapAllValuesMs = null);

/// <summary>One NMS selection timed, and whether it picked exactly what the fp32 full-matrix reference picks.</summary>
public sealed record NmsTiming(int Tokens, int Dim, int Keep, string Features, double Ms, double FullMatrixMs, bool IdenticalToFullMatrix);
