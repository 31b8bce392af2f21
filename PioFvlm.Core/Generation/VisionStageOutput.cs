namespace PioFvlm.Core.Generation;

/// <summary>
/// What the vision stage hands the decoder: the multimodal sequence (owned by the caller), the vision time in ms
/// (tower, projector and any pre-LLM reducer), and how many visual tokens the tower produced before any reduction
/// (counted from the images themselves: anyres and dynamic resolution make it image-dependent).
/// </summary>
public sealed record VisionStageOutput(MultimodalSequence Sequence, double VisionMs, long VisualTokensFromTower)
{
    public void Deconstruct(out MultimodalSequence sequence, out double visionMs) => (sequence, visionMs) = (Sequence, VisionMs);
}
