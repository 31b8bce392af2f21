using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning;

/// <summary>What a <see cref="IPreLlmReducer"/> sees for one image.</summary>
/// <param name="ImageIndex">Which image of the prompt (or crop of an image) this is.</param>
/// <param name="Features">Projected features [N, H_text] in the decoder's dtype, in the tower's token order (raster
/// order of the patch grid, after CLS when <see cref="IVisionSignals.FeaturesIncludeCls"/>).</param>
/// <param name="Signals">The vision-side signals named by the reducer's <see cref="IPreLlmReducer.Signals"/>.</param>
/// <param name="Instruction">When the reducer asks (<see cref="VisionSignalRequest.InstructionEmbeddings"/>): the LLM input
/// embeddings [M, H_text] of the instruction, the prompt's text tokens after its first image placeholder (image
/// placeholders excluded; the system preamble before the image is not part of it); null otherwise.</param>
public sealed record VisionStageContext(int ImageIndex, Tensor Features, IVisionSignals Signals, Tensor? Instruction = null)
{
    public long TokenCount => Features.shape[0];
}
