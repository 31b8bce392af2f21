using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace PioFvlm.Models.Llava;

/// <summary>One pre-norm CLIP encoder layer (HF CLIPEncoderLayer): x + attn(LN1 x), then + mlp(LN2 x).</summary>
public sealed class ClipEncoderLayer : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "layer_norm1")] private readonly LayerNorm _layerNorm1;
    [ComponentName(Name = "self_attn")] private readonly ClipAttention _selfAttn;
    [ComponentName(Name = "layer_norm2")] private readonly LayerNorm _layerNorm2;
    [ComponentName(Name = "mlp")] private readonly ClipMlp _mlp;

    public ClipEncoderLayer(ClipVisionDims dims, Device? device = null) : base(nameof(ClipEncoderLayer))
    {
        _layerNorm1 = nn.LayerNorm(dims.Hidden, dims.LayerNormEps, device: device);
        _selfAttn = new ClipAttention(dims, device);
        _layerNorm2 = nn.LayerNorm(dims.Hidden, dims.LayerNormEps, device: device);
        _mlp = new ClipMlp(dims, device);
        RegisterComponents();
    }

    public AttentionImplementation AttentionImplementation
    {
        get => _selfAttn.Implementation;
        set => _selfAttn.Implementation = value;
    }

    public override Tensor forward(Tensor x)
    {
        using var _ = NewDisposeScope();
        var h = x + _selfAttn.forward(_layerNorm1.forward(x));
        return (h + _mlp.forward(_layerNorm2.forward(h))).MoveToOuterDisposeScope();
    }

    /// <summary>CLS attention row of this layer for its input <paramref name="x"/> [B, L, D] → [B, heads, L].</summary>
    public Tensor ClsAttention(Tensor x)
    {
        using var _ = NewDisposeScope();
        return _selfAttn.ClsAttentionProbabilities(_layerNorm1.forward(x)).MoveToOuterDisposeScope();
    }

    /// <summary>Received attention (mean over query rows) of this layer for its input <paramref name="x"/> → [B, heads, L].</summary>
    public Tensor MeanAttention(Tensor x)
    {
        using var _ = NewDisposeScope();
        return _selfAttn.MeanAttentionProbabilities(_layerNorm1.forward(x)).MoveToOuterDisposeScope();
    }

    /// <summary>Keys of this layer for its input <paramref name="x"/> → [B, heads, L, head_dim].</summary>
    public Tensor Keys(Tensor x)
    {
        using var _ = NewDisposeScope();
        return _selfAttn.Keys(_layerNorm1.forward(x)).MoveToOuterDisposeScope();
    }
}
