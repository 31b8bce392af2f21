using PioFvlm.Core.Generation;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Attention;

/// <summary>
/// PyramidDrop (spec baselines §6): at the boundary before layer b (= AfterLayer), the head-mean attention that the last
/// instruction token (the last prompt position) pays to each visual token, computed with layer b's input_layernorm,
/// q/k projections and RoPE on the hidden states about to enter it. Pair with <see cref="Selectors.TopKSelector"/>.
/// </summary>
public sealed class PDropScorer : ISaliencyScorer
{
    public Tensor Score(PrefillState state, IDecoderStack decoder) =>
        AttentionRows.LastTokenToVisual(decoder, state.LayersDone, state);
}
