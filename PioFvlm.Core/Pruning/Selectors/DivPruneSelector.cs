using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Selectors;

/// <summary>
/// DivPrune's selection as an intra-LLM selector (<see cref="MaxMinDiversity"/> on the hidden states of the visual
/// tokens at the stage); the scores are ignored. The official method acts before the LLM (<c>LAYER_INDEX = 0</c>,
/// see <see cref="PreLlm.DivPruneStage"/>); this placement is the repository's layer option, not a published setting.
/// </summary>
public sealed class DivPruneSelector : ITokenSelector
{
    public long[] Select(Tensor features, Tensor scores, int keep) => MaxMinDiversity.Select(features, keep);
}
