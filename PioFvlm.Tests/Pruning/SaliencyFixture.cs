using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Models.Text.Llama;
using PioFvlm.Tests.Models;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>Tiny seeded decoders and prefill states for the saliency tests.</summary>
internal static class SaliencyFixture
{
    /// <summary>Three layers so that r = 1 has a next layer (offset 0) and a previous one (offset −1).</summary>
    public static DecoderDims Dims(bool gqa) => (gqa ? TinyLlama.Gqa : TinyLlama.Mha) with { NumLayers = 3 };

    /// <summary>
    /// The state after <paramref name="layersDone"/> layers on random embeddings of <paramref name="length"/> positions
    /// with one visual span [visualStart, visualStart + visualLength). Tensors live in the caller's scope; when a cache
    /// is given the layers write to it.
    /// </summary>
    public static PrefillState State(LlamaForCausalLM lm, long length, long visualStart, long visualLength,
                                     int layersDone = 1, int seed = 11, KvCache? cache = null)
    {
        using var ng = no_grad();
        manual_seed(seed);
        var dtype = lm.InputEmbeddingWeight.dtype;
        var embeddings = randn([1, length, lm.Dims.HiddenSize], dtype: ScalarType.Float64).to_type(dtype);
        var positions = TinyLlama.Positions(0, length);
        var hidden = lm.RunLayers(embeddings, positions, cache, 0, layersDone);
        var tokens = Enumerable.Range(0, (int)length).Select(i => i >= visualStart && i < visualStart + visualLength ? 63 : i % 60).ToArray();
        return new PrefillState(hidden, positions, [new VisualSpan(visualStart, visualLength, 0)], tokens, layersDone);
    }

    /// <summary>The state's visual indices, hand-listed from the one span.</summary>
    public static long[] Visual(PrefillState state) =>
        Enumerable.Range((int)state.VisualSpans[0].Start, (int)state.VisualSpans[0].Length).Select(i => (long)i).ToArray();
}
