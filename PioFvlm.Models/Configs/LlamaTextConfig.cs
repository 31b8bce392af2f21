using PioFvlm.Core.Nn;

namespace PioFvlm.Models.Configs;

/// <summary>The LLaMA-architecture text model inside LLaVA: HF <c>LlamaConfig</c> (Vicuna) or <c>MistralConfig</c>.
/// Absent fields take that class's defaults; note both default <c>rms_norm_eps</c> to 1e-6 while the LLaVA
/// checkpoints write 1e-5.</summary>
public sealed record LlamaTextConfig
{
    /// <summary>"llama" or "mistral".</summary>
    public required string ModelType { get; init; }

    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int NumHiddenLayers { get; init; }
    public required int NumAttentionHeads { get; init; }

    /// <summary>Defaults to <see cref="NumAttentionHeads"/> for LLaMA (MHA) and 8 for Mistral (GQA).</summary>
    public required int NumKeyValueHeads { get; init; }

    /// <summary>Defaults to hidden / heads.</summary>
    public required int HeadDim { get; init; }

    public required string HiddenAct { get; init; }
    public required double RmsNormEps { get; init; }
    public required double RopeTheta { get; init; }

    /// <summary>Always "default" after parsing: other RoPE scalings are refused.</summary>
    public required string RopeType { get; init; }

    public required int MaxPositionEmbeddings { get; init; }
    public required bool TieWordEmbeddings { get; init; }
    public int? BosTokenId { get; init; }

    /// <summary>HF allows an int or a list; empty when null.</summary>
    public required IReadOnlyList<int> EosTokenIds { get; init; }

    public int? PadTokenId { get; init; }

    /// <summary>Mistral only; null = full causal attention (llava-v1.6-mistral writes <c>sliding_window: null</c>).</summary>
    public int? SlidingWindow { get; init; }

    public bool AttentionBias { get; init; }
    public bool MlpBias { get; init; }
    public string? CheckpointDType { get; init; }

    public int NumKeyValueGroups => NumAttentionHeads / NumKeyValueHeads;

    /// <summary>The decoder shape; <paramref name="tieWordEmbeddings"/> from the outer (LLaVA) config, which owns it.</summary>
    public DecoderDims ToDecoderDims(bool tieWordEmbeddings) => new(HiddenSize, NumAttentionHeads, NumKeyValueHeads, HeadDim,
        IntermediateSize, NumHiddenLayers, RmsNormEps, RopeTheta, VocabSize, MaxPositionEmbeddings, tieWordEmbeddings, AttentionBias);

    internal static readonly string[] SupportedModelTypes = ["llama", "mistral"];

    /// <summary>Reads LlamaConfig/MistralConfig fields from <paramref name="r"/> (a <c>text_config</c>, or the
    /// top level of a research config).</summary>
    internal static LlamaTextConfig Parse(ConfigReader r, string modelType, string modelTypeKey)
    {
        var isMistral = modelType switch
        {
            "llama" => false,
            "mistral" => true,
            _ => throw new UnsupportedModelException(r.File, modelTypeKey,
                $"text model '{modelType}' is not supported (supported: {string.Join(", ", SupportedModelTypes)})"),
        };

        var hidden = r.PositiveInt("hidden_size", 4096);
        var heads = r.PositiveInt("num_attention_heads", 32);
        var kvHeads = r.NullableInt("num_key_value_heads", null) ?? (isMistral ? 8 : heads);
        if (kvHeads <= 0) throw r.Error("num_key_value_heads", $"must be positive, got {kvHeads}");
        if (heads % kvHeads != 0)
            throw r.Error("num_key_value_heads", $"num_attention_heads {heads} is not a multiple of num_key_value_heads {kvHeads}");
        var headDim = r.NullableInt("head_dim", null);
        if (headDim == null && hidden % heads != 0)
            throw r.Error("num_attention_heads", $"hidden_size {hidden} is not divisible by num_attention_heads {heads}");
        var rope = RopeSettings.Read(r, defaultTheta: 10000.0, allowMrope: false);

        return new LlamaTextConfig
        {
            ModelType = modelType,
            VocabSize = r.PositiveInt("vocab_size", 32000),
            HiddenSize = hidden,
            IntermediateSize = r.PositiveInt("intermediate_size", isMistral ? 14336 : 11008),
            NumHiddenLayers = r.PositiveInt("num_hidden_layers", 32),
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim ?? hidden / heads,
            HiddenAct = r.String("hidden_act", "silu"),
            RmsNormEps = r.Double("rms_norm_eps", 1e-6),
            RopeTheta = rope.Theta,
            RopeType = rope.Type,
            MaxPositionEmbeddings = r.PositiveInt("max_position_embeddings", isMistral ? 4096 * 32 : 2048),
            TieWordEmbeddings = r.Bool("tie_word_embeddings", false),
            BosTokenId = r.NullableInt("bos_token_id", 1),
            EosTokenIds = r.IntOrIntList("eos_token_id", [2]),
            PadTokenId = r.NullableInt("pad_token_id", null),
            SlidingWindow = isMistral ? r.NullableInt("sliding_window", 4096) : null,
            AttentionBias = r.Bool("attention_bias", false),
            MlpBias = r.Bool("mlp_bias", false),
            CheckpointDType = r.DType(),
        };
    }
}
