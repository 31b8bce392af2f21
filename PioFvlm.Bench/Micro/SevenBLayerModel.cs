using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Models.Text.Llama;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Micro;

/// <summary>
/// A LLaMA decoder at the LLaVA-1.5-7B layer shape (hidden 4096, 32 heads, MLP 11008, vocab 32064, bf16) with only a
/// few layers (random weights, about 0.65 GB per model plus 0.4 GB per layer), and a prefill state of S = 636 positions
/// (a 576-token visual span at 35, as LLaVA-1.5's prompt) after <c>layersDone</c> layers.
/// </summary>
public sealed class SevenBLayerModel : IDisposable
{
    public const long Length = 636, VisualStart = 35, Visual = 576;

    public LlamaForCausalLM Model { get; }
    public PrefillState State { get; }
    public DecoderDims Dims { get; }

    /// <summary>The LLaMA-7B / Vicuna-7B decoder shape with <paramref name="layers"/> layers (a tiny
    /// <paramref name="vocab"/> where the head is never run).</summary>
    public static DecoderDims Shape(int layers, int vocab = 32064) =>
        new(HiddenSize: 4096, NumHeads: 32, NumKvHeads: 32, HeadDim: 128, IntermediateSize: 11008,
            NumLayers: layers, RmsNormEps: 1e-5, RopeTheta: 10000, VocabSize: vocab, MaxPositions: 4096,
            TieWordEmbeddings: false, AttentionBias: false);

    public SevenBLayerModel(int layers, int layersDone = 0, int seed = 3)
    {
        Dims = Shape(layers);
        using var noGrad = no_grad();
        manual_seed(seed);
        Model = new LlamaForCausalLM("lm", Dims, dtype: ScalarType.BFloat16);
        foreach (var p in Model.parameters()) p.requires_grad_(false);
        using var scope = NewDisposeScope();
        var hidden = randn([1, Length, Dims.HiddenSize], dtype: ScalarType.BFloat16).MoveToOuterDisposeScope();
        var positions = arange(Length, dtype: ScalarType.Int64).unsqueeze(0).MoveToOuterDisposeScope();
        State = new PrefillState(hidden, positions, [new VisualSpan(VisualStart, Visual, 0)],
                                 Enumerable.Repeat(0, (int)Length).ToArray(), layersDone);
    }

    public void Dispose()
    {
        State.Hidden.Dispose();
        State.PositionIds.Dispose();
        Model.Dispose();
    }
}
