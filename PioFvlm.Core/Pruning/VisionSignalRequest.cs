namespace PioFvlm.Core.Pruning;

/// <summary>
/// Which vision-side signals a <see cref="IPreLlmReducer"/> needs, so the model computes only those, in the same
/// tower pass that produces the features, and keeps fused attention everywhere else.
/// <para>
/// Layer indices follow HF's tuples, negative values counting from the end as in Python:
/// <see cref="ClsAttentionLayers"/> and <see cref="KeyLayers"/> index <c>attentions</c> (one entry per encoder layer,
/// the attention inside layer i, computed from that layer's input), so on a 24-layer CLIP −2 is layer 22 (0-based), the
/// layer whose output LLaVA's <c>hidden_states[−2]</c> is. <see cref="HiddenStates"/> index <c>hidden_states</c>
/// (entry 0 = embeddings, entry k = output of layer k − 1), so −2 is entry 23 = output of layer 22.
/// </para>
/// </summary>
public sealed record VisionSignalRequest
{
    /// <summary>Layers whose CLS attention row is needed.</summary>
    public IReadOnlyList<int> ClsAttentionLayers { get; init; } = [];

    /// <summary>Layers whose keys are needed (e.g. VisionZip's merge metric).</summary>
    public IReadOnlyList<int> KeyLayers { get; init; } = [];

    /// <summary>Hidden states needed in full, CLS included (e.g. VisionZip's CLS feature).</summary>
    public IReadOnlyList<int> HiddenStates { get; init; } = [];

    /// <summary>Layers whose received attention is needed: per head, the attention probabilities averaged over all query
    /// rows (CLS included), HF's <c>attentions[i].mean(dim=2)</c> (HiPrune's "global attention").</summary>
    public IReadOnlyList<int> MeanAttentionLayers { get; init; } = [];

    /// <summary>Layers whose received attention per LLM token is needed, on towers without CLS whose LLM tokens merge
    /// several patches (Qwen2.5-VL): per head, softmax(Q · Kᵀ / √d) averaged over all query rows of the image, then over
    /// the patches of each merged token (<see cref="IVisionSignals.ReceivedAttention"/>). Full-attention layers only.</summary>
    public IReadOnlyList<int> ReceivedAttentionLayers { get; init; } = [];

    /// <summary>Whether the reducer needs the instruction's LLM input embeddings (<see cref="VisionStageContext.Instruction"/>;
    /// CDPruner's relevance).</summary>
    public bool InstructionEmbeddings { get; init; }

    /// <summary>Whether the reducer reads the token grid's shape (<see cref="IVisionSignals.GridHeight"/>; Downsample),
    /// so it must see one grid at a time (one LLaVA-NeXT crop, not the packed image).</summary>
    public bool Grid { get; init; }

    public static VisionSignalRequest None { get; } = new();

    /// <summary>An index into <c>attentions</c> of a <paramref name="layers"/>-deep encoder → 0-based layer.</summary>
    public static int ResolveLayer(int layer, int layers)
    {
        int index = layer < 0 ? layers + layer : layer;
        if (index < 0 || index >= layers)
            throw new ArgumentOutOfRangeException(nameof(layer), $"vision layer {layer} does not exist in a {layers}-layer encoder (valid: {-layers}..{layers - 1})");
        return index;
    }

    /// <summary>An index into <c>hidden_states</c> of a <paramref name="layers"/>-deep encoder → 0..layers.</summary>
    public static int ResolveHiddenState(int index, int layers)
    {
        int resolved = index < 0 ? layers + 1 + index : index;
        if (resolved < 0 || resolved > layers)
            throw new ArgumentOutOfRangeException(nameof(index), $"hidden state {index} does not exist for a {layers}-layer encoder (valid: {-(layers + 1)}..{layers})");
        return resolved;
    }
}
