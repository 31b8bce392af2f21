using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.PreLlm;

/// <summary>
/// VScan's token merging (reference <c>llava_arch.token_merging</c>, scaling = 1): every dropped token goes to the kept
/// token with the highest cosine similarity, and every kept token becomes the plain mean of itself and the tokens
/// assigned to it.
/// </summary>
public static class TokenMerging
{
    /// <summary>
    /// <paramref name="features"/> [N, H] → [K, H] for the ascending <paramref name="kept"/> rows, in that order.
    /// Similarities and means are taken in float32 (the reference works in the model dtype, fp16) and the result is
    /// cast back to the input dtype. Ties in similarity go to the lowest kept index (argmax's first maximum). With no
    /// dropped token the kept rows are returned as they are.
    /// </summary>
    public static Tensor MergeIntoNearest(Tensor features, IReadOnlyList<long> kept)
    {
        if (features.dim() != 2)
            throw new ArgumentException($"features must be [N, H], got [{string.Join(", ", features.shape)}]", nameof(features));
        long n = features.shape[0];
        var isKept = new bool[n];
        foreach (long i in kept)
        {
            if (i < 0 || i >= n) throw new ArgumentOutOfRangeException(nameof(kept), $"kept index {i} is outside 0..{n - 1}");
            if (isKept[i]) throw new ArgumentException($"kept index {i} appears twice", nameof(kept));
            isKept[i] = true;
        }
        if (kept.Count == 0 && n > 0)
            throw new ArgumentException("merging needs at least one kept token", nameof(kept));
        var dropped = Enumerable.Range(0, (int)n).Where(i => !isKept[i]).Select(i => (long)i).ToArray();

        using var _ = NewDisposeScope();
        var keptIndex = tensor(kept.ToArray(), ScalarType.Int64, features.device);
        if (dropped.Length == 0)
            return features.index_select(0, keptIndex).MoveToOuterDisposeScope();

        var all = features.to(ScalarType.Float32);
        var keptRows = all.index_select(0, keptIndex);
        var droppedRows = all.index_select(0, tensor(dropped, ScalarType.Int64, features.device));
        var similarity = matmul(
            nn.functional.normalize(droppedRows, p: 2, dim: 1, eps: 1e-8),
            nn.functional.normalize(keptRows, p: 2, dim: 1, eps: 1e-8).t());
        var nearest = similarity.argmax(1);
        var sums = keptRows.index_add(0, nearest, droppedRows, 1);
        var counts = ones(kept.Count, dtype: ScalarType.Float32, device: features.device)
            .index_add(0, nearest, ones(dropped.Length, dtype: ScalarType.Float32, device: features.device), 1);
        return (sums / counts.unsqueeze(1)).to(features.dtype).MoveToOuterDisposeScope();
    }
}
