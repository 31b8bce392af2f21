using PioFvlm.Core.Nn;

namespace PioFvlm.Models.Configs;

/// <summary>The Qwen2 decoder inside Qwen2.5-VL (HF <c>Qwen2_5_VLTextConfig</c>). Read from v5's nested
/// <c>text_config</c> when present, else from the v4 flat top level.</summary>
public sealed record Qwen25VlTextConfig
{
    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int NumHiddenLayers { get; init; }
    public required int NumAttentionHeads { get; init; }
    public required int NumKeyValueHeads { get; init; }

    /// <summary>hidden / heads (the 7B config has no <c>head_dim</c> key).</summary>
    public required int HeadDim { get; init; }

    public required string HiddenAct { get; init; }
    public required double RmsNormEps { get; init; }
    public required double RopeTheta { get; init; }

    /// <summary>M-RoPE split of the head_dim/2 frequencies into (temporal, height, width) sections: [16, 24, 24] for
    /// 7B. From <c>rope_scaling.mrope_section</c> (v4) or <c>rope_parameters.mrope_section</c> (v5).</summary>
    public required IReadOnlyList<int> MropeSection { get; init; }

    public required int MaxPositionEmbeddings { get; init; }
    public required bool TieWordEmbeddings { get; init; }
    public int? BosTokenId { get; init; }
    public required IReadOnlyList<int> EosTokenIds { get; init; }
    public required double AttentionDropout { get; init; }

    public int NumKeyValueGroups => NumAttentionHeads / NumKeyValueHeads;

    /// <summary>The decoder shape: Qwen2 has q/k/v biases but no o_proj bias, and M-RoPE over 3 position rows.</summary>
    public DecoderDims ToDecoderDims() => new(HiddenSize, NumAttentionHeads, NumKeyValueHeads, HeadDim, IntermediateSize,
        NumHiddenLayers, RmsNormEps, RopeTheta, VocabSize, MaxPositionEmbeddings, TieWordEmbeddings, AttentionBias: true)
    {
        OutputBias = false,
        MropeSection = (MropeSection[0], MropeSection[1], MropeSection[2]),
    };

    /// <summary>Core sizes are required: HF's class defaults describe the 72B model, a silent trap for a 7B file.</summary>
    internal static Qwen25VlTextConfig Parse(ConfigReader t)
    {
        var hidden = t.RequirePositiveInt("hidden_size");
        var heads = t.RequirePositiveInt("num_attention_heads");
        var kvHeads = t.NullableInt("num_key_value_heads", 8) ?? heads;
        if (kvHeads <= 0 || heads % kvHeads != 0)
            throw t.Error("num_key_value_heads", $"num_attention_heads {heads} is not a positive multiple of num_key_value_heads {kvHeads}");
        var headDim = t.NullableInt("head_dim", null);
        if (headDim == null && hidden % heads != 0)
            throw t.Error("num_attention_heads", $"hidden_size {hidden} is not divisible by num_attention_heads {heads}");
        var resolvedHeadDim = headDim ?? hidden / heads;

        var rope = RopeSettings.Read(t, defaultTheta: 1000000.0, allowMrope: true);
        var section = rope.MropeSection ?? throw t.Error("rope_scaling",
            "mrope_section is missing (looked in rope_scaling and rope_parameters); Qwen2.5-VL needs its M-RoPE split");
        if (section.Count != 3 || section.Any(s => s <= 0) || section.Sum() != resolvedHeadDim / 2)
            throw t.Error("rope_scaling.mrope_section",
                $"expected three positive sections summing to head_dim/2 = {resolvedHeadDim / 2}, got [{string.Join(", ", section)}]");

        // sliding_window / max_window_layers only matter with use_sliding_window, which is refused.
        if (t.Bool("use_sliding_window", false))
            throw t.Error("use_sliding_window", "sliding-window attention is not implemented; every layer runs full causal attention");

        return new Qwen25VlTextConfig
        {
            VocabSize = t.PositiveInt("vocab_size", 152064),
            HiddenSize = hidden,
            IntermediateSize = t.RequirePositiveInt("intermediate_size"),
            NumHiddenLayers = t.RequirePositiveInt("num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = resolvedHeadDim,
            HiddenAct = t.String("hidden_act", "silu"),
            RmsNormEps = t.Double("rms_norm_eps", 1e-5),
            RopeTheta = rope.Theta,
            MropeSection = section,
            MaxPositionEmbeddings = t.PositiveInt("max_position_embeddings", 32768),
            TieWordEmbeddings = t.Bool("tie_word_embeddings", false),
            BosTokenId = t.NullableInt("bos_token_id", null),
            EosTokenIds = t.IntOrIntList("eos_token_id", []),
            AttentionDropout = t.Double("attention_dropout", 0.0),
        };
    }
}
