using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning;

/// <summary>Chooses which visual tokens to keep given their features and scores.</summary>
public interface ITokenSelector
{
    /// <summary>
    /// Exactly min(<paramref name="keep"/>, V) local indices into the V visual tokens, sorted ascending (kept tokens
    /// stay in their original order).
    /// </summary>
    /// <param name="features">[V, H] features of the visual tokens (any float dtype).</param>
    /// <param name="scores">[V] float32 scores, higher = keep first.</param>
    long[] Select(Tensor features, Tensor scores, int keep);
}
