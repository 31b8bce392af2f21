using PioFvlm.Core.Generation;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning;

/// <summary>
/// The residual stream between two decoder layers during prefill: what an intra-LLM pruner sees and returns.
/// Hidden [1, S, H]; PositionIds [R, S]; the visual spans; the token id at every position (image token id at visual
/// positions); LayersDone = r, the number of decoder layers already run.
/// </summary>
public sealed record PrefillState(Tensor Hidden, Tensor PositionIds, IReadOnlyList<VisualSpan> VisualSpans, IReadOnlyList<int> TokenIds, int LayersDone)
{
    public long Length => Hidden.shape[1];
    public long VisualTokenCount => VisualSpans.Sum(s => s.Length);
}
