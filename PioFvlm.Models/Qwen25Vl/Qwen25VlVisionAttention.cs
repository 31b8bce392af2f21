using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// Vision self-attention (HF Qwen2_5_VLVisionAttention): fused <c>qkv</c> (rows [q; k; v], heads × head_dim each),
/// 2-D rotary embedding in fp32, attention inside each segment, <c>proj</c>. Both linears have biases.
/// </summary>
public sealed class Qwen25VlVisionAttention : nn.Module<Tensor, Qwen25VlVisionRope, IReadOnlyList<long>, Tensor>
{
    [ComponentName(Name = "qkv")] private readonly Linear _qkv;
    [ComponentName(Name = "proj")] private readonly Linear _proj;

    public int NumHeads { get; }
    public int HeadDim { get; }

    public Qwen25VlVisionAttention(string name, int hidden, int heads, Device? device = null) : base(name)
    {
        NumHeads = heads;
        HeadDim = hidden / heads;
        _qkv = nn.Linear(hidden, 3L * hidden, hasBias: true, device: device);
        _proj = nn.Linear(hidden, hidden, hasBias: true, device: device);
        RegisterComponents();
    }

    /// <param name="x">Normed patches [N, hidden] in window order.</param>
    /// <param name="rope">cos/sin [N, head_dim] (fp32) in the same order.</param>
    /// <param name="cuSeqlens">Segment offsets: attention stays inside each segment.</param>
    public override Tensor forward(Tensor x, Qwen25VlVisionRope rope, IReadOnlyList<long> cuSeqlens)
    {
        using var _ = NewDisposeScope();
        long n = x.shape[0];
        var qkv = _qkv.forward(x).reshape(n, 3, NumHeads, HeadDim).permute(1, 0, 2, 3);   // [3, N, H, d]
        var q = rope.Apply(qkv[0]);
        var k = rope.Apply(qkv[1]);
        var attn = Qwen25VlSegmentAttention.Attend(q, k, qkv[2].contiguous(), cuSeqlens);
        return _proj.forward(attn.reshape(n, -1)).MoveToOuterDisposeScope();
    }
}
