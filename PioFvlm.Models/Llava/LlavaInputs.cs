using static TorchSharp.torch;

namespace PioFvlm.Models.Llava;

/// <summary>A prepared prompt: token ids with one image token per image, and the images' pixel values [n, 3, S, S].</summary>
public sealed class LlavaInputs(IReadOnlyList<int> tokenIds, Tensor? pixelValues) : IDisposable
{
    public IReadOnlyList<int> TokenIds { get; } = tokenIds;
    public Tensor? PixelValues { get; } = pixelValues;
    public int ImageCount => PixelValues is null ? 0 : (int)PixelValues.shape[0];
    public void Dispose() => PixelValues?.Dispose();
}
