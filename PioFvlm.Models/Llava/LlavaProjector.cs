using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace PioFvlm.Models.Llava;

/// <summary>
/// LLaVA's two-layer MLP projector (HF LlavaMultiModalProjector, keys <c>linear_1.*</c>, <c>linear_2.*</c>; mounted as
/// <c>multi_modal_projector</c>): linear_1 → exact erf GELU → linear_2. Research checkpoints name the same
/// tensors <c>mm_projector.0</c> and <c>mm_projector.2</c>.
/// </summary>
public sealed class LlavaProjector : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "linear_1")] private readonly Linear _linear1;
    [ComponentName(Name = "linear_2")] private readonly Linear _linear2;

    /// <param name="visionHidden">Input width: CLIP hidden size times the number of selected feature layers.</param>
    /// <param name="textHidden">Language model hidden size.</param>
    /// <param name="bias">HF <c>multimodal_projector_bias</c> (true for every LLaVA checkpoint).</param>
    public LlavaProjector(int visionHidden, int textHidden, bool bias = true, Device? device = null) : base(nameof(LlavaProjector))
    {
        _linear1 = nn.Linear(visionHidden, textHidden, hasBias: bias, device: device);
        _linear2 = nn.Linear(textHidden, textHidden, hasBias: bias, device: device);
        RegisterComponents();
    }

    /// <summary>[..., visionHidden] → [..., textHidden].</summary>
    public override Tensor forward(Tensor features)
    {
        using var _ = NewDisposeScope();
        var w = _linear1.weight!;
        var h = nn.functional.gelu(_linear1.forward(features.to(w.dtype, w.device)));
        return _linear2.forward(h).MoveToOuterDisposeScope();
    }
}
