using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace PioFvlm.Models.Llava;

/// <summary>
/// HF CLIPVisionTransformer (<c>vision_model.*</c>): embeddings, <c>pre_layrnorm</c> (HF's spelling), encoder,
/// <c>post_layernorm</c>. The forward runs every layer and returns the last hidden state without post_layernorm
/// (HF's <c>last_hidden_state</c>); LLaVA selects earlier layers through <see cref="ClipVisionTower"/>.
/// </summary>
public sealed class ClipVisionTransformer : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "embeddings")] private readonly ClipVisionEmbeddings _embeddings;
    [ComponentName(Name = "pre_layrnorm")] private readonly LayerNorm _preLayrnorm;
    [ComponentName(Name = "encoder")] private readonly ClipEncoder _encoder;
    [ComponentName(Name = "post_layernorm")] private readonly LayerNorm _postLayernorm;

    public ClipVisionTransformer(ClipVisionDims dims, Device? device = null) : base(nameof(ClipVisionTransformer))
    {
        _embeddings = new ClipVisionEmbeddings(dims, device);
        _preLayrnorm = nn.LayerNorm(dims.Hidden, dims.LayerNormEps, device: device);
        _encoder = new ClipEncoder(dims, device);
        _postLayernorm = nn.LayerNorm(dims.Hidden, dims.LayerNormEps, device: device);
        RegisterComponents();
    }

    public ClipEncoder Encoder => _encoder;

    /// <summary>HF hidden_states[0]: embeddings followed by pre_layrnorm, [B, 1 + patches, D].</summary>
    public Tensor Embed(Tensor pixelValues)
    {
        using var _ = NewDisposeScope();
        return _preLayrnorm.forward(_embeddings.forward(pixelValues)).MoveToOuterDisposeScope();
    }

    /// <summary>post_layernorm, which HF applies only to the pooled CLS output (LLaVA never uses it).</summary>
    public Tensor PostLayerNorm(Tensor hidden)
    {
        using var _ = NewDisposeScope();
        return _postLayernorm.forward(hidden).MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor pixelValues)
    {
        using var _ = NewDisposeScope();
        var h = Embed(pixelValues);
        for (int i = 0; i < _encoder.Count; i++)
            h = _encoder[i].forward(h);
        return h.MoveToOuterDisposeScope();
    }
}
