using PioFvlm.Core.Pruning;
using static TorchSharp.torch;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// What Qwen2.5-VL's tower offers a pre-LLM reducer for one image: the merged grid, the merged tokens and, when asked
/// (<see cref="VisionSignalRequest.ReceivedAttentionLayers"/>), the attention each merged token receives in a
/// full-attention block. The tower has no CLS token, so CLS attention, CLIP keys and CLS-bearing hidden states do not
/// exist; the CLS-based methods with a documented Qwen adaptation (VScan, VisionZip, HoloV, SCOPE, VisPruner, HiPrune)
/// ask for received attention instead (<see cref="IPreLlmReducer.SignalsFor(VisionTowerInfo)"/>), and a method that
/// still asks for a CLIP signal is refused before the tower runs (<see cref="Require"/>) rather than fed a silent
/// substitute.
/// </summary>
/// <param name="received">Per requested block (0-based): this image's [heads, tokens] slice of
/// <see cref="Qwen25VlVisionTransformer.Forward(Tensor, IReadOnlyList{Qwen25VlGrid}, IReadOnlyCollection{int}, out IReadOnlyDictionary{int, Tensor}, Action{string, Tensor})"/>'s output.</param>
public sealed class Qwen25VlVisionSignals(int encoderLayers, IReadOnlyList<int> fullAttentionBlocks, int gridHeight, int gridWidth, Tensor features,
                                         IReadOnlyDictionary<int, Tensor>? received = null) : IVisionSignals
{
    public int EncoderLayers { get; } = encoderLayers;
    public int GridHeight { get; } = gridHeight;
    public int GridWidth { get; } = gridWidth;
    public bool FeaturesIncludeCls => false;
    public Tensor SelectedFeatures { get; } = features;
    public VisionTowerInfo Tower { get; } = Info(encoderLayers, fullAttentionBlocks);

    /// <summary>The tower as a reducer sees it: no CLS, full attention only in <paramref name="fullAttentionBlocks"/>.</summary>
    public static VisionTowerInfo Info(int encoderLayers, IReadOnlyList<int> fullAttentionBlocks) =>
        new(encoderLayers, false, fullAttentionBlocks.Order().ToArray());

    public Tensor ReceivedAttention(int layer)
    {
        int block = VisionSignalRequest.ResolveLayer(layer, EncoderLayers);
        return received is not null && received.TryGetValue(block, out var t) ? t : throw new InvalidOperationException(
            $"the received attention of vision block {layer} (resolved {block}) was not computed: add it to VisionSignalRequest.ReceivedAttentionLayers " +
            $"(computed: [{string.Join(", ", received?.Keys ?? Enumerable.Empty<int>())}])");
    }

    public Tensor ClsAttention(int layer) => throw Unsupported("CLS attention");
    public Tensor Keys(int layer) => throw Unsupported("CLIP keys");
    public Tensor HiddenState(int index) => throw Unsupported("CLS-bearing hidden states");
    public Tensor Project(Tensor visionFeatures) => throw Unsupported("a separate projector (the merger is part of the tower)");

    static NotSupportedException Unsupported(string what) =>
        new($"Qwen2.5-VL's vision tower has no {what}; this pre-LLM method has no Qwen2.5-VL adaptation");

    /// <summary>
    /// Throws when <paramref name="reducer"/> asks for a signal this tower cannot give, naming the method: CLS attention,
    /// keys, CLS-bearing hidden states and CLIP-style mean attention maps, or received attention of a window-attention
    /// block. Returns the full-attention blocks whose received attention
    /// the reducer reads (0-based).
    /// </summary>
    public static IReadOnlyList<int> Require(IPreLlmReducer reducer, VisionSignalRequest s, VisionTowerInfo tower)
    {
        if (s.ClsAttentionLayers.Count > 0 || s.KeyLayers.Count > 0 || s.HiddenStates.Count > 0 || s.MeanAttentionLayers.Count > 0)
            throw new NotSupportedException(
                $"pre-LLM method {reducer.MethodName} needs CLIP-tower signals (CLS attention / keys / hidden states / attention maps) that " +
                "Qwen2.5-VL's CLS-free window-attention tower does not have; no documented adaptation is implemented. " +
                "Methods that read only the merged tokens (DivPrune, CDPruner), those adapted to the received attention of the full-attention " +
                "blocks (VScan, VisionZip, HoloV, SCOPE, VisPruner, HiPrune) and every intra-LLM method run on Qwen2.5-VL.");
        var blocks = s.ReceivedAttentionLayers.Select(l => VisionSignalRequest.ResolveLayer(l, tower.Layers)).Distinct().ToArray();
        foreach (int b in blocks)
            if (!tower.FullAttentionLayers.Contains(b))
                throw new NotSupportedException(
                    $"pre-LLM method {reducer.MethodName} asks for the received attention of vision block {b}, a window-attention block; " +
                    $"Qwen2.5-VL computes it only in its full-attention blocks [{string.Join(", ", tower.FullAttentionLayers)}]");
        return blocks;
    }

    /// <summary>Throws when a reducer returned merged rows (kept index -1): each decoder token of Qwen2.5-VL sits at one
    /// original token's (t, h, w), and a row pooled from several tokens has none.</summary>
    public static void RequireOriginalRows(IPreLlmReducer reducer, int image, IReadOnlyList<long> kept)
    {
        if (kept.Any(k => k < 0))
            throw new NotSupportedException(
                $"pre-LLM method {reducer.MethodName} returned merged rows for image {image} (kept index -1); Qwen2.5-VL places " +
                "every visual token at one original token's M-RoPE position (t, h, w) and a merged row has none; no documented " +
                "adaptation is implemented");
    }
}
