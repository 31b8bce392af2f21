using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace PioFvlm.Core.Nn;

/// <summary>Pre-norm decoder layer: <c>h = x + attn(norm_in(x)); out = h + mlp(norm_post(h))</c>.</summary>
public sealed class DecoderLayer : nn.Module<DecoderLayerInput, DecoderLayerOutput>
{
    [ComponentName(Name = "self_attn")] private readonly Attention _selfAttn;
    [ComponentName(Name = "mlp")] private readonly GatedMlp _mlp;
    [ComponentName(Name = "input_layernorm")] private readonly RmsNorm _inputLayernorm;
    [ComponentName(Name = "post_attention_layernorm")] private readonly RmsNorm _postAttentionLayernorm;

    public int LayerIndex { get; }
    public Attention SelfAttention => _selfAttn;
    public GatedMlp Mlp => _mlp;
    public RmsNorm InputLayernorm => _inputLayernorm;
    public RmsNorm PostAttentionLayernorm => _postAttentionLayernorm;

    public DecoderLayer(string name, DecoderDims dims, int layerIndex, Device? device = null, ScalarType? dtype = null) : base(name)
    {
        LayerIndex = layerIndex;
        _selfAttn = new Attention("self_attn", dims, layerIndex, device, dtype);
        _mlp = new GatedMlp("mlp", dims.HiddenSize, dims.IntermediateSize, device, dtype);
        _inputLayernorm = new RmsNorm("input_layernorm", dims.HiddenSize, dims.RmsNormEps, device, dtype);
        _postAttentionLayernorm = new RmsNorm("post_attention_layernorm", dims.HiddenSize, dims.RmsNormEps, device, dtype);
        RegisterComponents();
    }

    public override DecoderLayerOutput forward(DecoderLayerInput input)
    {
        using var _ = NewDisposeScope();   // one scope per layer: every temporary of the layer dies here
        var h = input.Hidden + _selfAttn.forward(new AttentionInput(_inputLayernorm.forward(input.Hidden), input.Rope, input.Cache));
        var output = h + _mlp.forward(_postAttentionLayernorm.forward(h));
        return new DecoderLayerOutput(output.MoveToOuterDisposeScope());
    }
}
