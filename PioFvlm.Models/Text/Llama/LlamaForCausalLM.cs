using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace PioFvlm.Models.Text.Llama;

/// <summary>
/// HF LlamaForCausalLM / MistralForCausalLM: <c>model</c> + <c>lm_head</c> (sharing embed_tokens' weight when
/// <see cref="DecoderDims.TieWordEmbeddings"/>; then state_dict lists it once, as <c>model.embed_tokens.weight</c>).
/// The pieces are exposed separately (<see cref="Embed"/>, <see cref="RunLayers(Tensor, Tensor, KvCache?, int, int)"/>,
/// <see cref="Logits"/>) so a VLM can splice image features into the embeddings and prune between layers.
/// Run it under the caller's <c>torch.no_grad()</c>.
/// </summary>
public sealed class LlamaForCausalLM : nn.Module<TextModelInput, Tensor>, IDecoderStack
{
    [ComponentName(Name = "model")] private readonly LlamaModel _model;
    [ComponentName(Name = "lm_head")] private readonly Linear _lmHead;

    public DecoderDims Dims => _model.Dims;
    public LlamaModel Model => _model;
    public Linear LmHead => _lmHead;
    public int LayerCount => _model.Dims.NumLayers;

    /// <inheritdoc cref="LlamaModel.Kernel"/>
    public AttentionKernel Kernel
    {
        get => _model.Kernel;
        set => _model.Kernel = value;
    }

    public LlamaForCausalLM(string name, DecoderDims dims, Device? device = null, ScalarType? dtype = null) : base(name)
    {
        _model = new LlamaModel("model", dims, device, dtype);
        _lmHead = dims.TieWordEmbeddings
            ? nn.Linear(_model.EmbedTokens.weight!, null)
            : nn.Linear(dims.HiddenSize, dims.VocabSize, hasBias: false, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <inheritdoc cref="LlamaModel.Embed"/>
    public Tensor Embed(Tensor inputIds) => _model.Embed(inputIds);

    /// <inheritdoc cref="LlamaModel.Rope"/>
    public RopeTables Rope(Tensor positionIds, ScalarType dtype) => _model.Rope(positionIds, dtype);

    /// <inheritdoc cref="LlamaModel.RunLayers(Tensor, Tensor, KvCache?, int, int)"/>
    public Tensor RunLayers(Tensor hidden, Tensor positionIds, KvCache? cache, int fromLayer, int toLayer) =>
        _model.RunLayers(hidden, positionIds, cache, fromLayer, toLayer);

    /// <inheritdoc cref="LlamaModel.RunLayers(Tensor, RopeTables, KvCache?, int, int)"/>
    public Tensor RunLayers(Tensor hidden, RopeTables rope, KvCache? cache, int fromLayer, int toLayer) =>
        _model.RunLayers(hidden, rope, cache, fromLayer, toLayer);

    /// <inheritdoc/>
    public DecoderLayer Layer(int index) => index >= 0 && index < LayerCount
        ? _model.Layers[index]
        : throw new ArgumentOutOfRangeException(nameof(index), $"LlamaForCausalLM.Layer: index {index} is outside 0..{LayerCount - 1}");

    /// <inheritdoc cref="LlamaModel.Norm"/>
    public Tensor Norm(Tensor hidden) => _model.Norm(hidden);

    /// <inheritdoc/>
    public Tensor OutputHeadWeight => _lmHead.weight!;

    /// <inheritdoc/>
    public Tensor InputEmbeddingWeight => _model.EmbedTokens.weight!;

    /// <summary>
    /// lm_head(norm(hidden)) for the un-normed residual stream [B, S, hidden] after the last layer:
    /// [B, S, vocab], or [B, 1, vocab] with <paramref name="lastPositionOnly"/>.
    /// </summary>
    public Tensor Logits(Tensor hidden, bool lastPositionOnly = false)
    {
        using var _ = NewDisposeScope();
        var h = lastPositionOnly ? hidden.narrow(1, hidden.shape[1] - 1, 1) : hidden;
        return _lmHead.forward(_model.Norm(h)).MoveToOuterDisposeScope();
    }

    /// <summary>Logits [B, S, vocab] over every position after all layers.</summary>
    public override Tensor forward(TextModelInput input)
    {
        using var _ = NewDisposeScope();
        var h = RunLayers(input.Embeddings, input.PositionIds, input.Cache, 0, LayerCount);
        return Logits(h).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One cached step on token ids [B, S] placed at positions firstPosition .. firstPosition + S − 1: a prefill when
    /// the cache is empty, a decode step when S = 1. The position is explicit (after pruning it is not the cache
    /// length). Returns logits [B, 1, vocab] (last position) or [B, S, vocab].
    /// </summary>
    public Tensor Step(Tensor inputIds, long firstPosition, KvCache? cache, bool lastPositionOnly = true)
    {
        using var _ = NewDisposeScope();
        long s = inputIds.shape[1];
        var positions = arange(firstPosition, firstPosition + s, dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0);
        var h = RunLayers(Embed(inputIds), positions, cache, 0, LayerCount);
        return Logits(h, lastPositionOnly).MoveToOuterDisposeScope();
    }
}
