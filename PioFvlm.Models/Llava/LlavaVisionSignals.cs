using PioFvlm.Core.Pruning;
using static TorchSharp.torch;

namespace PioFvlm.Models.Llava;

/// <summary>
/// <see cref="IVisionSignals"/> of one image for LLaVA's CLIP tower: slices of one batched
/// <see cref="ClipVisionTower.EncodeWithSignals"/> pass, which computed only the requested CLS rows, keys and hidden
/// states (the tower keeps fused SDPA). Built by <see cref="Compute"/>; its tensors live in the caller's dispose scope.
/// </summary>
public sealed class LlavaVisionSignals : IVisionSignals
{
    readonly ClipVisionTower _tower;
    readonly LlavaProjector _projector;
    readonly VisionSignalRequest _request;
    readonly Dictionary<int, Tensor> _cls;
    readonly Dictionary<int, Tensor> _keys;
    readonly Dictionary<int, Tensor> _states;
    readonly Dictionary<int, Tensor> _mean;

    LlavaVisionSignals(ClipVisionTower tower, LlavaProjector projector, VisionSignalRequest request, ClipSignalPass pass, int image)
    {
        _tower = tower;
        _projector = projector;
        _request = request;
        int patches = tower.Dims.NumPatches;
        // Patch columns only; the softmax already ran over all keys, CLS included.
        _cls = pass.ClsAttention.ToDictionary(e => e.Key, e => e.Value[image].narrow(-1, 1, patches));
        _keys = pass.Keys.ToDictionary(e => e.Key, e => e.Value[image]);
        _states = pass.HiddenStates.ToDictionary(e => e.Key, e => e.Value[image]);
        _mean = (pass.MeanAttention ?? new Dictionary<int, Tensor>()).ToDictionary(e => e.Key, e => e.Value[image].narrow(-1, 1, patches));
        SelectedFeatures = pass.Features[image];
    }

    /// <summary>
    /// Runs the tower once over <paramref name="pixelValues"/> [n, 3, S, S] with the signals of
    /// <paramref name="request"/>, projects the features, and returns the projected features [n, N, H_text] and one
    /// signals object per image. All tensors are made in the caller's dispose scope.
    /// </summary>
    public static (Tensor Projected, IReadOnlyList<LlavaVisionSignals> Images) Compute(
        ClipVisionTower tower, LlavaProjector projector, Tensor pixelValues, VisionSignalRequest request)
    {
        var pass = tower.EncodeWithSignals(pixelValues, request.ClsAttentionLayers, request.KeyLayers, request.HiddenStates, request.MeanAttentionLayers);
        var projected = projector.forward(pass.Features);
        var images = Enumerable.Range(0, (int)pixelValues.shape[0])
            .Select(i => new LlavaVisionSignals(tower, projector, request, pass, i)).ToArray();
        return (projected, images);
    }

    public int EncoderLayers => _tower.Dims.Layers;
    public int GridHeight => _tower.Dims.GridSize;
    public int GridWidth => _tower.Dims.GridSize;
    public bool FeaturesIncludeCls => _tower.Selection.Strategy == ClipFeatureStrategy.Full;
    public Tensor SelectedFeatures { get; }

    public Tensor ClsAttention(int layer) =>
        Lookup(_cls, _tower.ResolveLayerIndex(layer), layer, nameof(VisionSignalRequest.ClsAttentionLayers));

    public Tensor MeanAttention(int layer) =>
        Lookup(_mean, _tower.ResolveLayerIndex(layer), layer, nameof(VisionSignalRequest.MeanAttentionLayers));

    public Tensor Keys(int layer) =>
        Lookup(_keys, _tower.ResolveLayerIndex(layer), layer, nameof(VisionSignalRequest.KeyLayers));

    public Tensor HiddenState(int index) =>
        Lookup(_states, _tower.ResolveHiddenStateIndex(index), index, nameof(VisionSignalRequest.HiddenStates));

    public Tensor Project(Tensor visionFeatures) => _projector.forward(visionFeatures);

    Tensor Lookup(Dictionary<int, Tensor> signals, int resolved, int asked, string requestField) =>
        signals.TryGetValue(resolved, out var t) ? t : throw new InvalidOperationException(
            $"vision signal {asked} (resolved {resolved}) was not computed: add it to VisionSignalRequest.{requestField} " +
            $"(requested: [{string.Join(", ", RequestedOf(requestField))}])");

    IReadOnlyList<int> RequestedOf(string field) => field switch
    {
        nameof(VisionSignalRequest.ClsAttentionLayers) => _request.ClsAttentionLayers,
        nameof(VisionSignalRequest.KeyLayers) => _request.KeyLayers,
        nameof(VisionSignalRequest.MeanAttentionLayers) => _request.MeanAttentionLayers,
        _ => _request.HiddenStates,
    };
}
