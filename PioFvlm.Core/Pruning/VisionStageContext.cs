using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning;

/// <summary>What a <see cref="IPreLlmReducer"/> sees for one image.</summary>
/// <param name="ImageIndex">Which image of the prompt (or crop of an image) this is.</param>
/// <param name="Features">Projected features [N, H_text] in the decoder's dtype, in the tower's token order (raster
/// order of the patch grid, after CLS when <see cref="IVisionSignals.FeaturesIncludeCls"/>).</param>
/// <param name="Signals">The vision-side signals named by the reducer's <see cref="IPreLlmReducer.Signals"/>.</param>
public sealed record VisionStageContext(int ImageIndex, Tensor Features, IVisionSignals Signals)
{
    public long TokenCount => Features.shape[0];
}
