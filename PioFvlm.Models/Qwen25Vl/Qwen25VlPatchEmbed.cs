using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// Patch embedding (HF Qwen2_5_VisionPatchEmbed): a Conv3d with kernel = stride = (2, 14, 14) and no bias, key
/// <c>proj.weight</c> [hidden, C, T, P, P]. A pixel row [C·T·P·P] is laid out in the weight's own (c, t, y, x) order, so
/// the convolution equals one matmul with the weight flattened (spec A3 step 5); the Conv3d itself runs here, as HF
/// does, because the matmul sums the 1176 terms in another order (2e-5 apart on the fixture, 2e-6 relative).
/// </summary>
public sealed class Qwen25VlPatchEmbed : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "proj")] private readonly Conv3d _proj;

    public int PatchDim { get; }

    public Qwen25VlPatchEmbed(string name, int hidden, int channels, int temporal, int patch, Device? device = null) : base(name)
    {
        PatchDim = channels * temporal * patch * patch;
        _proj = nn.Conv3d(channels, hidden, (temporal, patch, patch), stride: (temporal, patch, patch), bias: false, device: device);
        RegisterComponents();
    }

    /// <summary>pixel_values [N, C·T·P·P] → [N, hidden] in the weight's dtype.</summary>
    public override Tensor forward(Tensor pixels)
    {
        if (pixels.dim() != 2 || pixels.shape[1] != PatchDim)
            throw new ArgumentException($"pixel_values must be [patches, {PatchDim}], got [{string.Join(", ", pixels.shape)}]");
        using var _ = NewDisposeScope();
        var w = _proj.weight!;
        var volumes = pixels.to(w.dtype, w.device).view(-1, w.shape[1], w.shape[2], w.shape[3], w.shape[4]);
        return _proj.forward(volumes).view(-1, w.shape[0]).MoveToOuterDisposeScope();
    }
}
