using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning;

/// <summary>What a <see cref="IPreLlmReducer"/> returns for one image.</summary>
/// <param name="Features">The reduced features [K, H_text] in the input's dtype, in the order they enter the decoder
/// (kept tokens in raster order for selection methods; merged tokens are means, not originals).</param>
/// <param name="KeptIndices">For reporting: for each output row, the input row [0, N) it stands for, or −1 for a row
/// that stands for no single input token (e.g. a CLS token a method adds).</param>
public sealed record PreLlmReduction(Tensor Features, long[] KeptIndices)
{
    /// <summary>Throws when the output does not fit an input of <paramref name="inputTokens"/> × <paramref name="width"/>.</summary>
    public PreLlmReduction Validate(long inputTokens, long width, string reducer)
    {
        if (Features.dim() != 2 || Features.shape[1] != width)
            throw new InvalidOperationException(
                $"{reducer} returned features [{string.Join(", ", Features.shape)}]; expected [K, {width}]");
        if (KeptIndices.Length != Features.shape[0])
            throw new InvalidOperationException(
                $"{reducer} returned {Features.shape[0]} feature rows but {KeptIndices.Length} kept indices");
        foreach (long i in KeptIndices)
            if (i < -1 || i >= inputTokens)
                throw new InvalidOperationException($"{reducer} returned kept index {i}, outside −1..{inputTokens - 1}");
        return this;
    }
}
