using PioFvlm.Core.Generation;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning;

/// <summary>
/// The residual stream between two decoder layers during prefill: what an intra-LLM pruner sees and returns.
/// Hidden [1, S, H]; PositionIds [R, S]; the visual spans; the token id at every position (image token id at visual
/// positions); LayersDone = r, the number of decoder layers already run.
/// </summary>
/// <remarks>
/// Everything one prefill's pruning produces travels here, never in the pruner: the stage reports so far
/// (<see cref="Stages"/>) and the pruner's own scratch (<see cref="Scratch"/>). So one pruner object, holding only its
/// configuration, may prune several prefills at once on different threads.
/// </remarks>
public sealed record PrefillState(Tensor Hidden, Tensor PositionIds, IReadOnlyList<VisualSpan> VisualSpans, IReadOnlyList<int> TokenIds, int LayersDone)
{
    public long Length => Hidden.shape[1];
    public long VisualTokenCount => VisualSpans.Sum(s => s.Length);

    /// <summary>
    /// The stages this prefill has run so far, in order; empty before the first. A pruner returns the state with its
    /// new report appended (<see cref="WithStage"/>) and keeps the reports it was given; <see cref="DecoderRunner"/>
    /// hands the final list over in <see cref="PrefillResult.Stages"/>.
    /// </summary>
    public IReadOnlyList<PruningStageReport> Stages { get; init; } = [];

    /// <summary>
    /// The running pruner's per-prefill data (e.g. a signal read one layer before its stage, the raters chosen from
    /// the embeddings), null when it has none. Opaque to the prefill loop, which passes it from call to call; each
    /// pruner stores its own immutable record here and checks its type when reading it back.
    /// </summary>
    public object? Scratch { get; init; }

    /// <summary>This state with <paramref name="report"/> appended to <see cref="Stages"/>.</summary>
    public PrefillState WithStage(PruningStageReport report) => this with { Stages = [.. Stages, report] };
}
