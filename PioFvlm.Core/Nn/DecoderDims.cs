namespace PioFvlm.Core.Nn;

/// <summary>
/// The sizes a LLaMA/Mistral-style decoder is built from. A plain record: config parsers map their own config
/// types onto it, so it carries no JSON attributes and no defaults that could hide a missing field.
/// </summary>
/// <param name="HiddenSize">Residual width d.</param>
/// <param name="NumHeads">Query heads.</param>
/// <param name="NumKvHeads">Key/value heads (= NumHeads for MHA, fewer for GQA; must divide NumHeads).</param>
/// <param name="HeadDim">Per-head width (usually HiddenSize / NumHeads; Mistral-family configs may set it).</param>
/// <param name="IntermediateSize">Gated MLP width.</param>
/// <param name="NumLayers">Decoder layers.</param>
/// <param name="RmsNormEps">RMSNorm epsilon (LLaMA-2/Mistral use 1e-5).</param>
/// <param name="RopeTheta">RoPE base θ.</param>
/// <param name="VocabSize">Rows of embed_tokens and lm_head.</param>
/// <param name="MaxPositions">max_position_embeddings (informational; RoPE tables are computed on demand).</param>
/// <param name="TieWordEmbeddings">lm_head shares embed_tokens' weight.</param>
/// <param name="AttentionBias">Bias on q_proj, k_proj and v_proj, and on o_proj unless <see cref="OutputBias"/> says
/// otherwise (HF LlamaAttention's attention_bias).</param>
public sealed record DecoderDims(
    int HiddenSize,
    int NumHeads,
    int NumKvHeads,
    int HeadDim,
    int IntermediateSize,
    int NumLayers,
    double RmsNormEps,
    double RopeTheta,
    int VocabSize,
    int MaxPositions,
    bool TieWordEmbeddings,
    bool AttentionBias)
{
    /// <summary>Bias on o_proj when it differs from <see cref="AttentionBias"/>: Qwen2 has q/k/v biases but none on
    /// o_proj (false there). Null: same as AttentionBias (LLaMA's attention_bias covers all four).</summary>
    public bool? OutputBias { get; init; }

    /// <summary>o_proj's bias as built.</summary>
    public bool HasOutputBias => OutputBias ?? AttentionBias;

    /// <summary>M-RoPE split of the HeadDim/2 rotary frequencies over the 3 position rows (t, h, w), e.g. (16, 24, 24)
    /// for Qwen2.5-VL-7B; null for ordinary 1-D RoPE. A value tuple, so the record keeps value equality.</summary>
    public (int T, int H, int W)? MropeSection { get; init; }

    /// <summary>The section as the array <see cref="RotaryEmbedding"/> takes, or null.</summary>
    public int[]? MropeSectionArray => MropeSection is { } m ? [m.T, m.H, m.W] : null;

    /// <summary>Rows of the position ids this decoder reads (1, or 3 with M-RoPE).</summary>
    public int PositionRows => MropeSection is null ? 1 : 3;

    /// <summary>Query heads per key/value head.</summary>
    public int GroupSize => NumHeads / NumKvHeads;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first inconsistent value.</summary>
    public DecoderDims Validate()
    {
        void Positive(int v, string name)
        {
            if (v <= 0) throw new ArgumentException($"DecoderDims.{name} must be positive, got {v}");
        }
        Positive(HiddenSize, nameof(HiddenSize));
        Positive(NumHeads, nameof(NumHeads));
        Positive(NumKvHeads, nameof(NumKvHeads));
        Positive(HeadDim, nameof(HeadDim));
        Positive(IntermediateSize, nameof(IntermediateSize));
        Positive(NumLayers, nameof(NumLayers));
        Positive(VocabSize, nameof(VocabSize));
        if (NumHeads % NumKvHeads != 0)
            throw new ArgumentException($"DecoderDims.NumHeads ({NumHeads}) must be a multiple of NumKvHeads ({NumKvHeads})");
        if (HeadDim % 2 != 0)
            throw new ArgumentException($"DecoderDims.HeadDim must be even for rotate-half RoPE, got {HeadDim}");
        if (!(RmsNormEps > 0)) throw new ArgumentException($"DecoderDims.RmsNormEps must be positive, got {RmsNormEps}");
        if (!(RopeTheta > 0)) throw new ArgumentException($"DecoderDims.RopeTheta must be positive, got {RopeTheta}");
        return this;
    }
}
