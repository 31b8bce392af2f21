namespace PioFvlm.Core.Generation;

/// <summary>
/// A contiguous run of visual tokens in a merged sequence. A sequence's visual tokens are a set of spans (several
/// images, LLaVA-NeXT tiles, Qwen windows), never assumed to be one (start, count).
/// </summary>
/// <param name="Start">Index of the first visual token in the sequence.</param>
/// <param name="Length">Number of visual tokens.</param>
/// <param name="ImageIndex">Which image of the prompt the tokens come from.</param>
/// <param name="Origin">For anyres images (LLaVA-NeXT): the crop and grid cell the tokens came from; null otherwise.</param>
public readonly record struct VisualSpan(long Start, long Length, int ImageIndex, AnyresOrigin? Origin = null)
{
    public long End => Start + Length;
}
