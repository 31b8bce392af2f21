using static TorchSharp.torch;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// The vision tower's 2-D rotary embedding (spec A6 step 2): head dims [0, d/4) turn with the patch row, [d/4, d/2)
/// with the column, and the second half repeats the first (rotate-half pairs). θ = 10000 over d/2 frequencies;
/// angles, cos and sin in fp32, and q, k are rotated in fp32 and cast back, as HF does.
/// </summary>
public sealed class Qwen25VlVisionRope
{
    /// <summary>Rotary angles [N, d/2] (HF's rotary_pos_emb), in the order the tables were built for.</summary>
    public Tensor Freqs { get; }
    public Tensor Cos { get; }
    public Tensor Sin { get; }

    Qwen25VlVisionRope(Tensor freqs)
    {
        Freqs = freqs;
        var emb = cat([freqs, freqs], -1);
        Cos = emb.cos();
        Sin = emb.sin();
    }

    /// <summary>Tables for patches at (<paramref name="rows"/>, <paramref name="columns"/>), then reordered by
    /// <paramref name="patchOrder"/> (window order) when given. Tensors belong to the caller's dispose scope.</summary>
    public static Qwen25VlVisionRope For(long[] rows, long[] columns, int headDim, long[]? patchOrder, Device device, double theta = 10000.0)
    {
        int dim = headDim / 2;   // HF VisionRotaryEmbedding(head_dim / 2): inv_freq over arange(0, dim, 2)
        var exponents = arange(0, dim, 2, dtype: ScalarType.Int64, device: device).to_type(ScalarType.Float32) / (float)dim;
        var invFreq = full_like(exponents, (float)theta).pow(exponents).reciprocal();                  // [d/4]
        var r = tensor(rows, device: device).to_type(ScalarType.Float32).unsqueeze(1) * invFreq;
        var c = tensor(columns, device: device).to_type(ScalarType.Float32).unsqueeze(1) * invFreq;
        var freqs = cat([r, c], -1);                                                                   // [N, d/2]
        if (patchOrder is not null) freqs = freqs.index_select(0, tensor(patchOrder, device: device));
        return new Qwen25VlVisionRope(freqs);
    }

    /// <summary>x [N, heads, d] rotated in fp32, returned in x's dtype.</summary>
    public Tensor Apply(Tensor x)
    {
        using var _ = NewDisposeScope();
        var xf = x.to_type(ScalarType.Float32);
        var cos = Cos.unsqueeze(1);
        var sin = Sin.unsqueeze(1);
        var rotated = xf * cos + PioFvlm.Core.Nn.RotaryEmbedding.RotateHalf(xf) * sin;
        return rotated.to_type(x.dtype).MoveToOuterDisposeScope();
    }
}
