using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace PioFvlm.Models.Llava;

/// <summary>CLIP feed-forward block (HF CLIPMLP): fc1 → activation (quick_gelu by default) → fc2, both biased.</summary>
public sealed class ClipMlp : nn.Module<Tensor, Tensor>
{
    readonly ClipHiddenAct _act;

    [ComponentName(Name = "fc1")] private readonly Linear _fc1;
    [ComponentName(Name = "fc2")] private readonly Linear _fc2;

    public ClipMlp(ClipVisionDims dims, Device? device = null) : base(nameof(ClipMlp))
    {
        _act = dims.HiddenAct;
        _fc1 = nn.Linear(dims.Hidden, dims.Intermediate, hasBias: true, device: device);
        _fc2 = nn.Linear(dims.Intermediate, dims.Hidden, hasBias: true, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var _ = NewDisposeScope();
        var h = _fc1.forward(x);
        h = _act switch
        {
            ClipHiddenAct.QuickGelu => h * sigmoid(h * 1.702),
            _ => nn.functional.gelu(h),
        };
        return _fc2.forward(h).MoveToOuterDisposeScope();
    }
}
