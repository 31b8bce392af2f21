using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace PioFvlm.Models.Llava;

/// <summary>What <see cref="ClipVisionTower.Encode"/> returns; tensors belong to the caller's dispose scope.</summary>
/// <param name="Features">Selected features [B, N, D · layers] (N = patches, or patches + 1 with CLS for Full).</param>
/// <param name="ClsAttention">
/// When asked: the CLS attention row [B, heads, 1 + patches] (float32) of the deepest selected layer's own
/// attention, i.e. HF's <c>attentions[i][:, :, 0, :]</c> for the layer whose output is the selected hidden state.
/// </param>
/// <param name="Keys">When asked: that layer's keys [B, heads, 1 + patches, head_dim].</param>
public sealed record ClipVisionOutput(Tensor Features, Tensor? ClsAttention = null, Tensor? Keys = null);

/// <summary>What <see cref="ClipVisionTower.EncodeWithSignals"/> returns; tensors belong to the caller's dispose scope.</summary>
/// <param name="Features">Selected features [B, N, D · layers], as <see cref="ClipVisionOutput.Features"/>.</param>
/// <param name="ClsAttention">By 0-based layer: CLS attention row [B, heads, 1 + patches] (float32, key 0 = CLS).</param>
/// <param name="Keys">By 0-based layer: keys [B, heads, 1 + patches, head_dim].</param>
/// <param name="HiddenStates">By hidden-state index: [B, 1 + patches, D], CLS included.</param>
/// <param name="MeanAttention">By 0-based layer: received attention [B, heads, 1 + patches] (float32, mean over all query rows).</param>
public sealed record ClipSignalPass(
    Tensor Features,
    IReadOnlyDictionary<int, Tensor> ClsAttention,
    IReadOnlyDictionary<int, Tensor> Keys,
    IReadOnlyDictionary<int, Tensor> HiddenStates,
    IReadOnlyDictionary<int, Tensor>? MeanAttention = null);

/// <summary>
/// The LLaVA CLIP vision tower (HF CLIPVisionModel, keys <c>vision_model.*</c>; the composite mounts it as
/// <c>vision_tower</c>). Runs only the encoder layers the feature selection needs: with 24 layers and
/// <c>vision_feature_layer = −2</c>, layers 0..22 run and layer 23 and <c>post_layernorm</c> never do.
/// </summary>
public sealed class ClipVisionTower : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "vision_model")] private readonly ClipVisionTransformer _visionModel;

    public ClipVisionDims Dims { get; }

    public ClipFeatureSelection Selection { get; }

    public ClipVisionTower(ClipVisionDims dims, ClipFeatureSelection? selection = null, Device? device = null)
        : base(nameof(ClipVisionTower))
    {
        Dims = dims.Validate();
        Selection = selection ?? ClipFeatureSelection.LlavaDefault;
        if (Selection.Layers.Count == 0)
            throw new ArgumentException("vision_feature_layer list is empty", nameof(selection));
        foreach (int layer in Selection.Layers)
            ResolveHiddenStateIndex(layer);
        _visionModel = new ClipVisionTransformer(dims, device);
        RegisterComponents();
    }

    public ClipVisionTransformer VisionModel => _visionModel;

    /// <summary>Sdpa (default) or Eager for every layer.</summary>
    public AttentionImplementation AttentionImplementation
    {
        get => _visionModel.Encoder[0].AttentionImplementation;
        set
        {
            for (int i = 0; i < _visionModel.Encoder.Count; i++)
                _visionModel.Encoder[i].AttentionImplementation = value;
        }
    }

    /// <summary>
    /// Index into HF's hidden_states (0 = embeddings after pre_layrnorm, k = output of layer k − 1) for a
    /// <c>vision_feature_layer</c> value; negative counts from the end, so −1 → Layers and −2 → Layers − 1.
    /// </summary>
    public int ResolveHiddenStateIndex(int featureLayer)
    {
        int index = featureLayer < 0 ? Dims.Layers + 1 + featureLayer : featureLayer;
        if (index < 0 || index > Dims.Layers)
            throw new ArgumentOutOfRangeException(nameof(featureLayer),
                $"vision_feature_layer {featureLayer} is outside the {Dims.Layers + 1} hidden states of a {Dims.Layers}-layer CLIP tower");
        return index;
    }

    /// <summary>How many encoder layers the selection needs (the deepest selected hidden-state index).</summary>
    public int LayersToRun => Selection.Layers.Max(ResolveHiddenStateIndex);

    /// <summary>HF hidden_states entries 0..<paramref name="lastIndex"/> (default: all Layers + 1 of them).</summary>
    public IReadOnlyList<Tensor> HiddenStates(Tensor pixelValues, int? lastIndex = null)
    {
        int last = lastIndex ?? Dims.Layers;
        if (last < 0 || last > Dims.Layers)
            throw new ArgumentOutOfRangeException(nameof(lastIndex), $"hidden state {last} does not exist (0..{Dims.Layers})");
        using var _ = NewDisposeScope();
        var states = new List<Tensor>(last + 1) { _visionModel.Embed(pixelValues) };
        for (int i = 0; i < last; i++)
            states.Add(_visionModel.Encoder[i].forward(states[^1]));
        foreach (var s in states) s.MoveToOuterDisposeScope();
        return states;
    }

    /// <summary>Pixel values [B, C, S, S] → selected image features (see <see cref="Selection"/>).</summary>
    public override Tensor forward(Tensor pixelValues) => Encode(pixelValues).Features;

    /// <summary>Selected features, optionally with the CLS attention row and keys of the deepest selected layer.</summary>
    public ClipVisionOutput Encode(Tensor pixelValues, bool withClsAttention = false, bool withKeys = false)
    {
        int run = LayersToRun;
        if ((withClsAttention || withKeys) && run == 0)
            throw new InvalidOperationException("CLS attention needs an encoder layer, but the selection uses only the embeddings (hidden state 0)");
        using var _ = NewDisposeScope();
        int[] last = [run - 1];
        var pass = EncodeWithSignals(pixelValues, withClsAttention ? last : [], withKeys ? last : []);
        return new ClipVisionOutput(
            pass.Features.MoveToOuterDisposeScope(),
            withClsAttention ? pass.ClsAttention[run - 1].MoveToOuterDisposeScope() : null,
            withKeys ? pass.Keys[run - 1].MoveToOuterDisposeScope() : null);
    }

    /// <summary>
    /// One tower pass: the selected features plus, for every requested layer, its CLS attention row and keys
    /// (computed beside the layer's fused attention from its own q/k of its input; only the CLS query row), and the
    /// requested hidden states with CLS. Layers index HF's <c>attentions</c> and hidden states its
    /// <c>hidden_states</c>, negative from the end (see <see cref="PioFvlm.Core.Pruning.VisionSignalRequest"/>); the
    /// dictionaries are keyed by the resolved non-negative index. Layers run as deep as the deepest request needs.
    /// </summary>
    public ClipSignalPass EncodeWithSignals(Tensor pixelValues, IReadOnlyCollection<int> clsAttentionLayers,
                                            IReadOnlyCollection<int> keyLayers, IReadOnlyCollection<int>? hiddenStates = null,
                                            IReadOnlyCollection<int>? meanAttentionLayers = null)
    {
        var clsAt = clsAttentionLayers.Select(ResolveLayerIndex).ToHashSet();
        var meanAt = (meanAttentionLayers ?? []).Select(ResolveLayerIndex).ToHashSet();
        var keysAt = keyLayers.Select(ResolveLayerIndex).ToHashSet();
        var statesAt = (hiddenStates ?? []).Select(ResolveHiddenStateIndex).ToHashSet();
        var selected = Selection.Layers.Select(ResolveHiddenStateIndex).ToArray();
        // Full layer forwards needed: the selection's and the requested hidden states' depth. A probed layer i only
        // needs its input (hidden state i), so probing layer i never forces layer i itself to run.
        int run = Math.Max(LayersToRun, statesAt.DefaultIfEmpty(0).Max());
        int last = Math.Max(run - 1, clsAt.Concat(keysAt).Concat(meanAt).DefaultIfEmpty(-1).Max());

        using var _ = NewDisposeScope();
        var kept = new Dictionary<int, Tensor>();
        var cls = new Dictionary<int, Tensor>();
        var keys = new Dictionary<int, Tensor>();
        var mean = new Dictionary<int, Tensor>();
        var h = _visionModel.Embed(pixelValues);
        kept[0] = h;
        for (int i = 0; i <= last; i++)
        {
            var layer = _visionModel.Encoder[i];
            if (clsAt.Contains(i)) cls[i] = layer.ClsAttention(h).MoveToOuterDisposeScope();
            if (keysAt.Contains(i)) keys[i] = layer.Keys(h).MoveToOuterDisposeScope();
            if (meanAt.Contains(i)) mean[i] = layer.MeanAttention(h).MoveToOuterDisposeScope();
            if (i >= run) continue;
            h = layer.forward(h);
            kept[i + 1] = h;
        }

        var parts = selected.Select(index => Selection.Strategy == ClipFeatureStrategy.Default
            ? kept[index].narrow(1, 1, kept[index].shape[1] - 1)
            : kept[index]).ToArray();
        var features = parts.Length == 1 ? parts[0].contiguous() : cat(parts, -1);
        var states = statesAt.ToDictionary(i => i, i => kept[i].alias().MoveToOuterDisposeScope());
        return new ClipSignalPass(features.MoveToOuterDisposeScope(), cls, keys, states, mean);
    }

    /// <summary>An index into HF's <c>attentions</c> (one per encoder layer; negative from the end) → 0-based layer.</summary>
    public int ResolveLayerIndex(int layer) => PioFvlm.Core.Pruning.VisionSignalRequest.ResolveLayer(layer, Dims.Layers);

    /// <summary>
    /// CLS attention row [B, heads, 1 + patches] of encoder layer <paramref name="layerIndex"/> (0-based), computed
    /// from that layer's own q/k of its input; runs layers 0..layerIndex − 1 first.
    /// </summary>
    public Tensor ClsAttention(Tensor pixelValues, int layerIndex)
    {
        if (layerIndex < 0 || layerIndex >= Dims.Layers)
            throw new ArgumentOutOfRangeException(nameof(layerIndex), $"layer {layerIndex} does not exist (0..{Dims.Layers - 1})");
        using var _ = NewDisposeScope();
        var h = _visionModel.Embed(pixelValues);
        for (int i = 0; i < layerIndex; i++)
            h = _visionModel.Encoder[i].forward(h);
        return _visionModel.Encoder[layerIndex].ClsAttention(h).MoveToOuterDisposeScope();
    }
}
