using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning;

/// <summary>
/// Vision-side signals of one image, served by the model to a <see cref="IPreLlmReducer"/>. Layer indices follow
/// <see cref="VisionSignalRequest"/> (negative from the end). Asking for a signal the reducer's request did not name
/// throws. Tensors from the properties and from <see cref="ClsAttention"/>, <see cref="Keys"/>,
/// <see cref="HiddenState"/> belong to the signals: valid during <see cref="IPreLlmReducer.Reduce"/>, never disposed or
/// modified by the reducer. <see cref="Project"/> returns a new tensor.
/// </summary>
public interface IVisionSignals
{
    /// <summary>Encoder depth, against which negative layer indices resolve.</summary>
    int EncoderLayers { get; }

    /// <summary>Patch grid rows and columns (patch p sits at row p / GridWidth, column p % GridWidth).</summary>
    int GridHeight { get; }
    int GridWidth { get; }

    /// <summary>Whether feature row 0 is the CLS token (then patch p is row p + 1).</summary>
    bool FeaturesIncludeCls { get; }

    /// <summary>The tower features the projector consumed, [N, H_vis].</summary>
    Tensor SelectedFeatures { get; }

    /// <summary>Softmax(q_CLS · Kᵀ / √d) of layer <paramref name="layer"/> per head, restricted to the patch keys
    /// (the softmax itself runs over all keys, CLS included): [heads, GridHeight · GridWidth], float32.</summary>
    Tensor ClsAttention(int layer);

    /// <summary>Received attention of layer <paramref name="layer"/>: per head, softmax(Q · Kᵀ / √d) averaged over all
    /// query rows (CLS included), restricted to the patch keys: [heads, GridHeight · GridWidth], float32. Only models that
    /// compute it (see <see cref="VisionSignalRequest.MeanAttentionLayers"/>) override this.</summary>
    Tensor MeanAttention(int layer) =>
        throw new NotSupportedException($"{GetType().Name} does not compute the mean (received) attention of vision layer {layer}");

    /// <summary>Received attention per LLM token of full-attention layer <paramref name="layer"/> on a CLS-free tower
    /// (<see cref="VisionSignalRequest.ReceivedAttentionLayers"/>): per head, softmax(Q · Kᵀ / √d) of the image's patches
    /// averaged over all query rows, then over the patches each token merges: [heads, GridHeight · GridWidth], float32,
    /// raster order of the token grid. Only models that compute it override this.</summary>
    Tensor ReceivedAttention(int layer) =>
        throw new NotSupportedException($"{GetType().Name} does not compute the received attention per merged token of vision layer {layer}");

    /// <summary>The tower these signals come from (default: a CLIP tower of <see cref="EncoderLayers"/> layers).</summary>
    VisionTowerInfo Tower => VisionTowerInfo.Clip(EncoderLayers);

    /// <summary>Keys of layer <paramref name="layer"/>, [heads, 1 + patches, head_dim] (CLS first).</summary>
    Tensor Keys(int layer);

    /// <summary>HF <c>hidden_states[index]</c> with CLS, [1 + patches, H_vis].</summary>
    Tensor HiddenState(int index);

    /// <summary>The model's projector on vision-space rows [M, H_vis] → [M, H_text] (for methods that reduce before
    /// projecting, as VisionZip does).</summary>
    Tensor Project(Tensor visionFeatures);
}
