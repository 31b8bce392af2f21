using static TorchSharp.torch;

namespace PioFvlm.Core.Generation;

/// <summary>
/// A prepared prompt of any family: token ids (one image placeholder per image, or the processor's expanded form) and
/// the images' pixel values in the family's layout (LLaVA-1.5 [n, 3, S, S]; LLaVA-NeXT [n, crops, 3, S, S] with
/// <see cref="ImageSizes"/>; Qwen2.5-VL [patches, C·T·P·P] with <see cref="ImageGridThw"/>). Owns its tensors.
/// </summary>
public sealed class VlmInputs : IDisposable
{
    public IReadOnlyList<int> TokenIds { get; }
    public Tensor? PixelValues { get; }
    /// <summary>Original (height, width) of each image [n, 2] (LLaVA-NeXT), or null.</summary>
    public Tensor? ImageSizes { get; }
    /// <summary>(t, h, w) patch grid of each image [n, 3] (Qwen2.5-VL), or null.</summary>
    public Tensor? ImageGridThw { get; }
    public int ImageCount { get; }

    public VlmInputs(IReadOnlyList<int> tokenIds, Tensor? pixelValues, int imageCount, Tensor? imageSizes = null, Tensor? imageGridThw = null)
    {
        if (pixelValues is null != (imageCount == 0))
            throw new ArgumentException($"{imageCount} image(s) but pixel values {(pixelValues is null ? "missing" : "given")}");
        TokenIds = tokenIds;
        PixelValues = pixelValues;
        ImageCount = imageCount;
        ImageSizes = imageSizes;
        ImageGridThw = imageGridThw;
    }

    public void Dispose()
    {
        PixelValues?.Dispose();
        ImageSizes?.Dispose();
        ImageGridThw?.Dispose();
    }
}
