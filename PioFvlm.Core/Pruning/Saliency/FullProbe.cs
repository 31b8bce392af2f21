using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Saliency;

/// <summary>
/// The reference probe: the layer's own forward on the whole sequence (causal, no cache), the final norm and head on
/// every position, then the window rows are taken.
/// </summary>
internal static class FullProbe
{
    /// <summary>Logits [B, L, vocab] of the window rows; same contract as <see cref="CheapProbe.WindowLogits"/>.</summary>
    public static Tensor WindowLogits(DecoderLayer layer, Tensor x, RopeTables rope, Tensor window,
                                      Func<Tensor, Tensor> finalNorm, Tensor head, ScalarType dtype)
    {
        using var _ = NewDisposeScope();
        var y = layer.forward(new DecoderLayerInput(x, rope)).Hidden;
        var logits = nn.functional.linear(finalNorm(y), CheapProbe.Cast(head, dtype));
        return logits.index_select(1, window).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A copy of <paramref name="layer"/> with its weights cast to <paramref name="dtype"/> and not requiring grad
    /// (for the fp32-gradient option: the module's forward needs weights of the activation dtype). Dispose it.
    /// </summary>
    public static DecoderLayer CopyIn(DecoderLayer layer, DecoderDims dims, ScalarType dtype)
    {
        var device = layer.SelfAttention.QProj.weight!.device;
        var copy = new DecoderLayer($"probe_{layer.LayerIndex}", dims, layer.LayerIndex, device, dtype);
        copy.SelfAttention.Kernel = layer.SelfAttention.Kernel;
        var source = layer.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in copy.named_parameters())
        {
            if (!source.TryGetValue(name, out var from))
                throw new InvalidOperationException($"GradientSaliency: probe layer {layer.LayerIndex} has no parameter '{name}' to copy");
            parameter.copy_(from);
            parameter.requires_grad_(false);
        }
        return copy;
    }
}
