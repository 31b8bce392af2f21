namespace PioFvlm.Core.Pruning;

/// <summary>
/// What kind of vision tower a pre-LLM reducer will read, so it can ask for signals the tower has
/// (<see cref="IPreLlmReducer.SignalsFor(VisionTowerInfo)"/>): CLIP has a CLS token and full attention in every layer;
/// Qwen2.5-VL's tower has no CLS token, window attention except in a few full-attention blocks, and hands the LLM one
/// token per 2 × 2 merge unit of patches.
/// </summary>
/// <param name="Layers">Encoder depth (negative layer indices resolve against it).</param>
/// <param name="HasCls">Whether the tower has a CLS token (CLS attention, CLS-bearing keys and hidden states).</param>
/// <param name="FullAttentionLayers">0-based layers whose attention spans the whole image, ascending.</param>
public sealed record VisionTowerInfo(int Layers, bool HasCls, IReadOnlyList<int> FullAttentionLayers)
{
    /// <summary>A CLIP-style tower: CLS token, full attention in every layer.</summary>
    public static VisionTowerInfo Clip(int layers) => new(layers, true, Enumerable.Range(0, layers).ToArray());
}
