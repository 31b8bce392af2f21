using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace PioFvlm.Models.Llava;

/// <summary>How attention probabilities are computed.</summary>
public enum AttentionImplementation
{
    /// <summary>Fused <c>scaled_dot_product_attention</c> (default).</summary>
    Sdpa,

    /// <summary>Explicit softmax(q·kᵀ/√d)·v with a float32 softmax, as HF's eager path; the test oracle.</summary>
    Eager,
}

/// <summary>CLIP multi-head self-attention (HF CLIPAttention): biased q/k/v/out projections, no mask, scale d^−½.</summary>
public sealed class ClipAttention : nn.Module<Tensor, Tensor>
{
    readonly int _heads;
    readonly int _headDim;

    [ComponentName(Name = "q_proj")] private readonly Linear _qProj;
    [ComponentName(Name = "k_proj")] private readonly Linear _kProj;
    [ComponentName(Name = "v_proj")] private readonly Linear _vProj;
    [ComponentName(Name = "out_proj")] private readonly Linear _outProj;

    public AttentionImplementation Implementation { get; set; } = AttentionImplementation.Sdpa;

    public ClipAttention(ClipVisionDims dims, Device? device = null) : base(nameof(ClipAttention))
    {
        _heads = dims.Heads;
        _headDim = dims.HeadDim;
        _qProj = nn.Linear(dims.Hidden, dims.Hidden, hasBias: true, device: device);
        _kProj = nn.Linear(dims.Hidden, dims.Hidden, hasBias: true, device: device);
        _vProj = nn.Linear(dims.Hidden, dims.Hidden, hasBias: true, device: device);
        _outProj = nn.Linear(dims.Hidden, dims.Hidden, hasBias: true, device: device);
        RegisterComponents();
    }

    /// <summary>[B, L, D] (already layer-normed) → [B, L, D].</summary>
    public override Tensor forward(Tensor x)
    {
        using var _ = NewDisposeScope();
        long b = x.shape[0], l = x.shape[1];
        var q = SplitHeads(_qProj.forward(x));
        var k = SplitHeads(_kProj.forward(x));
        var v = SplitHeads(_vProj.forward(x));
        Tensor context;
        if (Implementation == AttentionImplementation.Sdpa)
        {
            context = nn.functional.scaled_dot_product_attention(q, k, v);
        }
        else
        {
            var scores = matmul(q, k.transpose(-1, -2)) * Math.Pow(_headDim, -0.5);
            var probs = scores.softmax(-1, ScalarType.Float32).to(q.dtype);
            context = matmul(probs, v);
        }
        var merged = context.transpose(1, 2).reshape(b, l, _heads * _headDim);
        return _outProj.forward(merged).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The CLS query's attention row, softmax(q₀·Kᵀ/√d) per head, from this layer's own projections of the
    /// layer-normed input <paramref name="x"/> [B, L, D] → [B, heads, L] (float32; key 0 is CLS itself). What HF
    /// returns as <c>attentions[i][:, :, 0, :]</c>; VisionZip-style pruning ranks patches by it.
    /// </summary>
    public Tensor ClsAttentionProbabilities(Tensor x)
    {
        using var _ = NewDisposeScope();
        var q = SplitHeads(_qProj.forward(x.narrow(1, 0, 1)));   // [B, H, 1, d]
        var k = SplitHeads(_kProj.forward(x));                   // [B, H, L, d]
        var scores = matmul(q, k.transpose(-1, -2)) * Math.Pow(_headDim, -0.5);
        return scores.softmax(-1, ScalarType.Float32).squeeze(2).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Received attention per head: softmax(Q·Kᵀ/√d) of this layer's own projections of the layer-normed input
    /// <paramref name="x"/> [B, L, D], averaged over all L query rows → [B, heads, L] (float32). HF's
    /// <c>attentions[i].mean(dim=2)</c>; HiPrune ranks patches by its head mean. A side computation: the layer's own
    /// forward keeps fused attention.
    /// </summary>
    public Tensor MeanAttentionProbabilities(Tensor x)
    {
        using var _ = NewDisposeScope();
        var q = SplitHeads(_qProj.forward(x));
        var k = SplitHeads(_kProj.forward(x));
        var scores = matmul(q, k.transpose(-1, -2)) * Math.Pow(_headDim, -0.5);
        return scores.softmax(-1, ScalarType.Float32).mean([2]).MoveToOuterDisposeScope();
    }

    /// <summary>This layer's keys [B, heads, L, head_dim] of the layer-normed input (VisionZip's merge metric).</summary>
    public Tensor Keys(Tensor x)
    {
        using var _ = NewDisposeScope();
        return SplitHeads(_kProj.forward(x)).MoveToOuterDisposeScope();
    }

    Tensor SplitHeads(Tensor t) => t.view(t.shape[0], t.shape[1], _heads, _headDim).transpose(1, 2);
}
