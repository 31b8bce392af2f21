using PioFvlm.Core.Pruning;
using static TorchSharp.torch;

namespace PioFvlm.Core.Generation;

/// <summary>
/// The decoder input of one prompt after the image features were spliced in: embeddings [1, S, H], position ids
/// [R, S] (R = 1 for 1-D RoPE, 3 for M-RoPE), the visual spans, and the token id at every position (the image token
/// id at visual positions), and what a pre-LLM reducer did to build it. Owns its tensors.
/// </summary>
public sealed class MultimodalSequence : IDisposable
{
    public Tensor Embeddings { get; }
    public Tensor PositionIds { get; }
    public IReadOnlyList<VisualSpan> VisualSpans { get; }
    public IReadOnlyList<int> TokenIds { get; }

    /// <summary>What the pre-LLM reducer did to the images spliced here; null when none ran.
    /// <see cref="DecoderRunner.Prefill"/> passes it on in <see cref="PrefillResult.PreLlm"/>.</summary>
    public PreLlmStageReport? PreLlm { get; }

    public MultimodalSequence(Tensor embeddings, Tensor positionIds, IReadOnlyList<VisualSpan> visualSpans, IReadOnlyList<int> tokenIds,
                              PreLlmStageReport? preLlm = null)
    {
        if (embeddings.dim() != 3 || embeddings.shape[0] != 1)
            throw new ArgumentException($"embeddings must be [1, S, H], got [{string.Join(", ", embeddings.shape)}]");
        if (positionIds.dim() != 2 || positionIds.shape[1] != embeddings.shape[1])
            throw new ArgumentException($"position ids must be [R, {embeddings.shape[1]}], got [{string.Join(", ", positionIds.shape)}]");
        if (tokenIds.Count != embeddings.shape[1])
            throw new ArgumentException($"{tokenIds.Count} token ids for a sequence of {embeddings.shape[1]} positions");
        Embeddings = embeddings;
        PositionIds = positionIds;
        VisualSpans = visualSpans;
        TokenIds = tokenIds;
        PreLlm = preLlm;
    }

    /// <summary>Where decoding continues under <see cref="PositionPolicy.KeepOriginal"/>: max(position ids of the
    /// unreduced prompt) + 1. Null: max of <see cref="PositionIds"/> + 1 (equal unless a reducer dropped the largest).</summary>
    public long? NextPosition { get; init; }

    public long Length => Embeddings.shape[1];
    public long VisualTokenCount => VisualSpans.Sum(s => s.Length);

    public void Dispose()
    {
        Embeddings.Dispose();
        PositionIds.Dispose();
    }
}
