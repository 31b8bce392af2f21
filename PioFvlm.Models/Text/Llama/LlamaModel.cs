using PioFvlm.Core.Nn;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace PioFvlm.Models.Text.Llama;

/// <summary>
/// HF LlamaModel / MistralModel: <c>embed_tokens</c>, <c>layers.{i}</c>, <c>norm</c>. The forward returns the
/// final-normed hidden states (HF's last_hidden_state); <see cref="RunLayers(Tensor, Tensor, KvCache?, int, int)"/>
/// runs any range of layers on the un-normed residual stream so a caller can act between layers.
/// Run it under the caller's <c>torch.no_grad()</c>.
/// </summary>
public sealed class LlamaModel : nn.Module<TextModelInput, Tensor>
{
    [ComponentName(Name = "embed_tokens")] private readonly Embedding _embedTokens;
    [ComponentName(Name = "layers")] private readonly ModuleList<DecoderLayer> _layers;
    [ComponentName(Name = "norm")] private readonly RmsNorm _norm;
    private readonly RotaryEmbedding _rotary;   // not a module: no state-dict entry, stays fp32

    public DecoderDims Dims { get; }
    public Embedding EmbedTokens => _embedTokens;
    public IReadOnlyList<DecoderLayer> Layers { get; }
    public RmsNorm FinalNorm => _norm;
    public RotaryEmbedding Rotary => _rotary;

    /// <summary>Kernel of every layer's attention (set to Eager for oracle runs).</summary>
    public AttentionKernel Kernel
    {
        get => _layers[0].SelfAttention.Kernel;
        set { foreach (var layer in _layers) layer.SelfAttention.Kernel = value; }
    }

    public LlamaModel(string name, DecoderDims dims, Device? device = null, ScalarType? dtype = null) : base(name)
    {
        Dims = dims.Validate();
        _embedTokens = nn.Embedding(dims.VocabSize, dims.HiddenSize, device: device, dtype: dtype);
        _layers = new ModuleList<DecoderLayer>();
        for (int i = 0; i < dims.NumLayers; i++)
            _layers.Add(new DecoderLayer(i.ToString(System.Globalization.CultureInfo.InvariantCulture), dims, i, device, dtype));
        _norm = new RmsNorm("norm", dims.HiddenSize, dims.RmsNormEps, device, dtype);
        _rotary = new RotaryEmbedding(dims.HeadDim, dims.RopeTheta, dims.MropeSectionArray);
        Layers = new System.Collections.ObjectModel.ReadOnlyCollection<DecoderLayer>(_layers);
        RegisterComponents();
    }

    /// <summary>Token embeddings [B, S, hidden] for ids [B, S].</summary>
    public Tensor Embed(Tensor inputIds) => _embedTokens.forward(inputIds);

    /// <summary>RoPE tables for position ids [R, S] (R = 1, or 3 with M-RoPE) in <paramref name="dtype"/> (compute once, pass to several ranges).</summary>
    public RopeTables Rope(Tensor positionIds, ScalarType dtype) => _rotary.Tables(positionIds, dtype);

    /// <summary>
    /// Runs layers <paramref name="fromLayer"/> (inclusive) to <paramref name="toLayer"/> (exclusive) on the residual
    /// stream [B, S, hidden]; returns the residual stream after layer toLayer − 1 (not normed). Each layer appends
    /// S positions to its own cache slot when a cache is given.
    /// </summary>
    public Tensor RunLayers(Tensor hidden, Tensor positionIds, KvCache? cache, int fromLayer, int toLayer)
    {
        using var _ = NewDisposeScope();
        var rope = Rope(positionIds, hidden.dtype);
        return RunLayers(hidden, rope, cache, fromLayer, toLayer).MoveToOuterDisposeScope();
    }

    /// <inheritdoc cref="RunLayers(Tensor, Tensor, KvCache?, int, int)"/>
    public Tensor RunLayers(Tensor hidden, RopeTables rope, KvCache? cache, int fromLayer, int toLayer)
    {
        if (fromLayer < 0 || toLayer > _layers.Count || fromLayer > toLayer)
            throw new ArgumentOutOfRangeException(nameof(fromLayer), $"LlamaModel.RunLayers: range [{fromLayer}, {toLayer}) is not inside [0, {_layers.Count}]");
        if (hidden.dim() != 3 || hidden.shape[2] != Dims.HiddenSize)
            throw new ArgumentException($"LlamaModel.RunLayers: hidden must be [B, S, {Dims.HiddenSize}], got [{string.Join(", ", hidden.shape)}]");
        if (cache is not null && cache.LayerCount != _layers.Count)
            throw new ArgumentException($"LlamaModel.RunLayers: cache has {cache.LayerCount} layers, model {_layers.Count}");
        var h = hidden.alias();   // a fresh handle, so every step below may dispose its input
        for (int i = fromLayer; i < toLayer; i++)
        {
            var next = _layers[i].forward(new DecoderLayerInput(h, rope, cache)).Hidden;
            h.Dispose();
            h = next;
        }
        return h;
    }

    /// <summary>Final RMSNorm.</summary>
    public Tensor Norm(Tensor hidden) => _norm.forward(hidden);

    /// <summary>All layers then the final norm: HF's last_hidden_state.</summary>
    public override Tensor forward(TextModelInput input)
    {
        using var _ = NewDisposeScope();
        var h = RunLayers(input.Embeddings, input.PositionIds, input.Cache, 0, _layers.Count);
        return Norm(h).MoveToOuterDisposeScope();
    }
}
