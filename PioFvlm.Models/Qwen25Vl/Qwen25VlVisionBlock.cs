using PioFvlm.Core.Nn;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>One vision block (HF Qwen2_5_VLVisionBlock): pre-norm attention and SwiGLU MLP with biases, RMSNorm eps 1e-6.</summary>
public sealed class Qwen25VlVisionBlock : nn.Module<Tensor, Qwen25VlVisionRope, IReadOnlyList<long>, Tensor>
{
    const double Eps = 1e-6;
    [ComponentName(Name = "norm1")] private readonly RmsNorm _norm1;
    [ComponentName(Name = "norm2")] private readonly RmsNorm _norm2;
    [ComponentName(Name = "attn")] private readonly Qwen25VlVisionAttention _attn;
    [ComponentName(Name = "mlp")] private readonly GatedMlp _mlp;

    public int HeadDim => _attn.HeadDim;

    public Qwen25VlVisionBlock(string name, int hidden, int heads, int intermediate, Device? device = null) : base(name)
    {
        _norm1 = new RmsNorm("norm1", hidden, Eps, device);
        _norm2 = new RmsNorm("norm2", hidden, Eps, device);
        _attn = new Qwen25VlVisionAttention("attn", hidden, heads, device);
        _mlp = new GatedMlp("mlp", hidden, intermediate, device, bias: true);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Qwen25VlVisionRope rope, IReadOnlyList<long> cuSeqlens)
    {
        using var _ = NewDisposeScope();
        var h = x + _attn.forward(_norm1.forward(x), rope, cuSeqlens);
        return (h + _mlp.forward(_norm2.forward(h))).MoveToOuterDisposeScope();
    }

    /// <summary>The attention each row of the block input <paramref name="x"/> receives inside its segment, per head,
    /// averaged over the segment's query rows ([heads, N] fp32; <see cref="Qwen25VlVisionAttention.ReceivedAttention"/>).</summary>
    public Tensor ReceivedAttention(Tensor x, Qwen25VlVisionRope rope, IReadOnlyList<long> cuSeqlens)
    {
        using var _ = NewDisposeScope();
        return _attn.ReceivedAttention(_norm1.forward(x), rope, cuSeqlens).MoveToOuterDisposeScope();
    }
}
