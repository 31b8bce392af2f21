using PioFvlm.Core.Pruning;
using static TorchSharp.torch;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// What Qwen2.5-VL's tower offers a pre-LLM reducer: the merged grid and the merged tokens. The tower has no CLS
/// token, so CLS attention, CLIP keys and CLS-bearing hidden states do not exist; methods that need them are refused
/// before the tower runs (<see cref="Require"/>) rather than fed a silent substitute.
/// </summary>
public sealed class Qwen25VlVisionSignals(int encoderLayers, int gridHeight, int gridWidth, Tensor features) : IVisionSignals
{
    public int EncoderLayers { get; } = encoderLayers;
    public int GridHeight { get; } = gridHeight;
    public int GridWidth { get; } = gridWidth;
    public bool FeaturesIncludeCls => false;
    public Tensor SelectedFeatures { get; } = features;

    public Tensor ClsAttention(int layer) => throw Unsupported("CLS attention");
    public Tensor Keys(int layer) => throw Unsupported("CLIP keys");
    public Tensor HiddenState(int index) => throw Unsupported("CLS-bearing hidden states");
    public Tensor Project(Tensor visionFeatures) => throw Unsupported("a separate projector (the merger is part of the tower)");

    static NotSupportedException Unsupported(string what) =>
        new($"Qwen2.5-VL's vision tower has no {what}; this pre-LLM method has no Qwen2.5-VL adaptation");

    /// <summary>Throws when <paramref name="reducer"/> asks for a signal this tower cannot give, naming the method.</summary>
    public static void Require(IPreLlmReducer reducer, VisionSignalRequest s)
    {
        if (s.ClsAttentionLayers.Count > 0 || s.KeyLayers.Count > 0 || s.HiddenStates.Count > 0 || s.MeanAttentionLayers.Count > 0)
            throw new NotSupportedException(
                $"pre-LLM method {reducer.GetType().Name} needs CLIP-tower signals (CLS attention / keys / hidden states / attention maps) that " +
                "Qwen2.5-VL's CLS-free window-attention tower does not have; no documented adaptation is implemented. " +
                "Methods that read only the merged tokens or grid (DivPrune, CDPruner, Downsample) and every intra-LLM method run on Qwen2.5-VL.");
    }

    /// <summary>Throws when a reducer returned merged rows (kept index -1): each decoder token of Qwen2.5-VL sits at one
    /// original token's (t, h, w), and a row pooled from several tokens has none.</summary>
    public static void RequireOriginalRows(IPreLlmReducer reducer, int image, IReadOnlyList<long> kept)
    {
        if (kept.Any(k => k < 0))
            throw new NotSupportedException(
                $"pre-LLM method {reducer.GetType().Name} returned merged rows for image {image} (kept index -1); Qwen2.5-VL places " +
                "every visual token at one original token's M-RoPE position (t, h, w) and a merged row has none; no documented " +
                "adaptation is implemented");
    }
}
