using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace PioFvlm.Models.Llava;

/// <summary>
/// CLIP patch embeddings (HF CLIPVisionEmbeddings): conv patchify without bias, row-major flatten, CLS prepended at
/// position 0, learned absolute positions added. No position interpolation: the input must be ImageSize square.
/// </summary>
public sealed class ClipVisionEmbeddings : nn.Module<Tensor, Tensor>
{
    readonly ClipVisionDims _dims;

    [ComponentName(Name = "class_embedding")] private readonly Parameter _classEmbedding;
    [ComponentName(Name = "patch_embedding")] private readonly Conv2d _patchEmbedding;
    [ComponentName(Name = "position_embedding")] private readonly Embedding _positionEmbedding;

    public ClipVisionEmbeddings(ClipVisionDims dims, Device? device = null) : base(nameof(ClipVisionEmbeddings))
    {
        _dims = dims;
        _classEmbedding = nn.Parameter(randn(dims.Hidden, device: device));
        _patchEmbedding = nn.Conv2d(dims.Channels, dims.Hidden, kernel_size: dims.PatchSize, stride: dims.PatchSize, bias: false, device: device);
        _positionEmbedding = nn.Embedding(dims.NumPositions, dims.Hidden, device: device);
        RegisterComponents();
    }

    /// <summary>pixel values [B, C, S, S] → embeddings [B, 1 + (S/P)², D] (before pre_layrnorm).</summary>
    public override Tensor forward(Tensor pixelValues)
    {
        using var _ = NewDisposeScope();
        if (pixelValues.ndim != 4 || pixelValues.shape[1] != _dims.Channels
            || pixelValues.shape[2] != _dims.ImageSize || pixelValues.shape[3] != _dims.ImageSize)
            throw new ArgumentException(
                $"CLIP pixel values must be [B, {_dims.Channels}, {_dims.ImageSize}, {_dims.ImageSize}], got [{string.Join(", ", pixelValues.shape)}]",
                nameof(pixelValues));
        var weight = _patchEmbedding.weight!;
        var patches = _patchEmbedding.forward(pixelValues.to(weight.dtype, weight.device)); // [B, D, g, g]
        patches = patches.flatten(2).transpose(1, 2);                                        // [B, g², D], row-major
        long batch = patches.shape[0];
        var cls = _classEmbedding.to(patches.dtype).view(1, 1, -1).expand(batch, 1, -1);
        var tokens = cat([cls, patches], 1);
        return (tokens + _positionEmbedding.weight!.unsqueeze(0)).MoveToOuterDisposeScope();
    }
}
