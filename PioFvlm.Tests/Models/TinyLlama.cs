using PioFvlm.Core.Nn;
using PioFvlm.Models.Text.Llama;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>Tiny seeded LLaMA/Mistral-shaped decoders for tests.</summary>
internal static class TinyLlama
{
    /// <summary>MHA (kv = heads), 2 layers, as fixture A of specs/llava.md §10.2 but narrower.</summary>
    public static DecoderDims Mha => new(HiddenSize: 32, NumHeads: 4, NumKvHeads: 4, HeadDim: 8, IntermediateSize: 48,
        NumLayers: 2, RmsNormEps: 1e-5, RopeTheta: 10000, VocabSize: 64, MaxPositions: 128,
        TieWordEmbeddings: false, AttentionBias: false);

    /// <summary>GQA (kv 2 of 4 heads), θ = 1e6, as the Mistral fixture B.</summary>
    public static DecoderDims Gqa => Mha with { NumKvHeads = 2, RopeTheta = 1e6 };

    /// <summary>A model with seeded random weights, norms included (so a wrong norm cannot hide behind ones).</summary>
    public static LlamaForCausalLM Create(DecoderDims dims, ScalarType dtype = ScalarType.Float32, int seed = 7)
    {
        manual_seed(seed);
        var model = new LlamaForCausalLM("lm", dims, dtype: dtype);
        using var ng = no_grad();
        using var scope = NewDisposeScope();
        foreach (var (name, p) in model.named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal))
                p.copy_(1 + 0.2 * randn_like(p));
            else if (name.EndsWith("embed_tokens.weight", StringComparison.Ordinal))
                p.copy_(randn_like(p));
            else
                p.copy_(0.3 * randn_like(p));
        }
        return model;
    }

    public static Tensor Positions(long from, long count) => arange(from, from + count, dtype: ScalarType.Int64).unsqueeze(0);
}
