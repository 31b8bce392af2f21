using PioFvlm.Core.Nn;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// The 2 × 2 patch merger (HF Qwen2_5_VLPatchMerger): <c>ln_q</c> RMSNorm (eps 1e-6) per patch, the 4 consecutive
/// patch rows of one merge block concatenated, then <c>mlp</c> = Linear → exact GELU → Linear (keys mlp.0, mlp.2).
/// </summary>
public sealed class Qwen25VlPatchMerger : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "ln_q")] private readonly RmsNorm _lnQ;
    [ComponentName(Name = "mlp")] private readonly Sequential _mlp;

    public int MergedDim { get; }

    public Qwen25VlPatchMerger(string name, int hidden, int outHidden, int mergeUnit, Device? device = null) : base(name)
    {
        MergedDim = hidden * mergeUnit;
        _lnQ = new RmsNorm("ln_q", hidden, 1e-6, device);
        _mlp = nn.Sequential(
            ("0", nn.Linear(MergedDim, MergedDim, hasBias: true, device: device)),
            ("1", nn.GELU()),
            ("2", nn.Linear(MergedDim, outHidden, hasBias: true, device: device)));
        RegisterComponents();
    }

    /// <summary>[Np, hidden] (merge blocks contiguous) → [Np / unit, out_hidden].</summary>
    public override Tensor forward(Tensor x)
    {
        using var _ = NewDisposeScope();
        return _mlp.forward(_lnQ.forward(x).reshape(-1, MergedDim)).MoveToOuterDisposeScope();
    }
}
