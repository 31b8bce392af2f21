namespace PioFvlm.Models.Configs;

/// <summary>Parameter counts from a config, following the checkpoint tensor shapes (llava.md §3, qwen25vl A2).
/// Linear weights are [out, in]; biases only where the checkpoints have them.</summary>
public static class ModelSizeEstimator
{
    public static ModelSize Estimate(VlmConfig config) => config switch
    {
        LlavaFamilyConfig llava => Llava(llava),
        Qwen25VlConfig qwen => Qwen(qwen),
        _ => throw new ArgumentException($"no size formula for {config.GetType().Name}", nameof(config)),
    };

    static ModelSize Llava(LlavaFamilyConfig c)
    {
        var t = c.Text;
        long hidden = t.HiddenSize;
        long projectorIn = c.ProjectorInputSize;
        var projector = Linear(projectorIn, hidden, c.ProjectorBias) + Linear(hidden, hidden, c.ProjectorBias);
        return new ModelSize
        {
            VisionTower = c.Vision == null ? 0 : ClipVisionTower(c.Vision),
            VisionTowerKnown = c.Vision != null,
            Projector = projector,
            TextEmbedding = (long)t.VocabSize * hidden,
            TextLayers = t.NumHiddenLayers * LlamaDecoderLayer(t),
            TextFinalNorm = hidden,
            LmHead = t.TieWordEmbeddings ? 0 : (long)t.VocabSize * hidden,
            Other = c is LlavaNextConfig ? hidden : 0,
        };
    }

    /// <summary>CLIP vision tower: class embedding, patch conv (no bias), position embedding (patches + CLS),
    /// pre_layrnorm, the encoder layers, post_layernorm.</summary>
    public static long ClipVisionTower(ClipVisionConfig v)
    {
        long d = v.HiddenSize, m = v.IntermediateSize;
        var embeddings = d + (long)v.NumChannels * v.PatchSize * v.PatchSize * d + v.NumPositions * d;
        var layer = 4 * Linear(d, d, bias: true) + 2 * LayerNorm(d) + Linear(d, m, bias: true) + Linear(m, d, bias: true);
        return embeddings + LayerNorm(d) + v.NumHiddenLayers * layer + LayerNorm(d);
    }

    /// <summary>One LLaMA/Mistral decoder layer: q/k/v/o, gate/up/down, input and post-attention RMSNorm.</summary>
    public static long LlamaDecoderLayer(LlamaTextConfig t)
    {
        long h = t.HiddenSize, i = t.IntermediateSize;
        long q = (long)t.NumAttentionHeads * t.HeadDim, kv = (long)t.NumKeyValueHeads * t.HeadDim;
        var attention = Linear(h, q, t.AttentionBias) + 2 * Linear(h, kv, t.AttentionBias) + Linear(q, h, t.AttentionBias);
        var mlp = 2 * Linear(h, i, t.MlpBias) + Linear(i, h, t.MlpBias);
        return attention + mlp + 2 * h;
    }

    static ModelSize Qwen(Qwen25VlConfig c)
    {
        var t = c.Text;
        long h = t.HiddenSize;
        return new ModelSize
        {
            VisionTower = QwenVisionEncoder(c.Vision),
            Projector = QwenPatchMerger(c.Vision),
            TextEmbedding = (long)t.VocabSize * h,
            TextLayers = t.NumHiddenLayers * QwenDecoderLayer(t),
            TextFinalNorm = h,
            LmHead = t.TieWordEmbeddings ? 0 : (long)t.VocabSize * h,
        };
    }

    /// <summary>Qwen ViT without the merger: 3-D patch conv (no bias) and the blocks (two RMSNorms, fused qkv and
    /// proj with biases, gated MLP with biases). Its rotary tables are not parameters.</summary>
    public static long QwenVisionEncoder(Qwen25VlVisionConfig v)
    {
        long d = v.HiddenSize, i = v.IntermediateSize;
        var patchEmbed = (long)v.InChannels * v.TemporalPatchSize * v.PatchSize * v.PatchSize * d;
        var block = 2 * d + Linear(d, 3 * d, bias: true) + Linear(d, d, bias: true)
                    + 2 * Linear(d, i, bias: true) + Linear(i, d, bias: true);
        return patchEmbed + v.Depth * block;
    }

    /// <summary>Patch merger: ln_q RMSNorm, then Linear(d·m², d·m²) → GELU → Linear(d·m², out).</summary>
    public static long QwenPatchMerger(Qwen25VlVisionConfig v)
    {
        long merged = v.MergedHiddenSize;
        return v.HiddenSize + Linear(merged, merged, bias: true) + Linear(merged, v.OutHiddenSize, bias: true);
    }

    /// <summary>Qwen2 decoder layer: q/k/v with biases, o without, gated MLP without biases, two RMSNorms.</summary>
    public static long QwenDecoderLayer(Qwen25VlTextConfig t)
    {
        long h = t.HiddenSize, i = t.IntermediateSize;
        long q = (long)t.NumAttentionHeads * t.HeadDim, kv = (long)t.NumKeyValueHeads * t.HeadDim;
        var attention = Linear(h, q, bias: true) + 2 * Linear(h, kv, bias: true) + Linear(q, h, bias: false);
        return attention + 2 * Linear(h, i, bias: false) + Linear(i, h, bias: false) + 2 * h;
    }

    static long Linear(long inFeatures, long outFeatures, bool bias) => inFeatures * outFeatures + (bias ? outFeatures : 0);

    static long LayerNorm(long d) => 2 * d;
}
