using static TorchSharp.torch;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// Bidirectional attention inside each segment of a packed sequence, no attention across segments: the vision tower's
/// windows and full-image segments (HF runs flash-attention varlen or one call per segment). TorchSharp has no varlen
/// SDPA, and a block-diagonal N × N mask costs O(N²) memory (at 12.8 MP an image has 65,536 patches). So segments of
/// equal length are gathered into one batch [n, heads, L, d] and run as one SDPA call without any mask: a grid has at
/// most four window sizes (interior, right edge, bottom edge, corner), so a few calls cover every window, no padding
/// rows are computed and no mask is needed (a padded batch would need a key mask and a guard row against all-masked
/// NaN). The output rows are scattered back to their packed places.
/// </summary>
public static class Qwen25VlSegmentAttention
{
    /// <summary>q, k, v [N, heads, d] → [N, heads, d]; <paramref name="cuSeqlens"/> = [0, …, N], strictly increasing.</summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, IReadOnlyList<long> cuSeqlens)
    {
        long n = q.shape[0];
        if (cuSeqlens.Count < 2 || cuSeqlens[0] != 0 || cuSeqlens[^1] != n)
            throw new ArgumentException($"segment offsets must run from 0 to {n} (the packed length), got [{string.Join(", ", cuSeqlens)}]");
        var byLength = new SortedDictionary<long, List<long>>();
        for (int i = 1; i < cuSeqlens.Count; i++)
        {
            long length = cuSeqlens[i] - cuSeqlens[i - 1];
            if (length <= 0) throw new ArgumentException($"segment {i - 1} has length {length}; offsets must increase strictly");
            if (!byLength.TryGetValue(length, out var starts)) byLength[length] = starts = [];
            starts.Add(cuSeqlens[i - 1]);
        }
        using var scope = NewDisposeScope();
        if (byLength.Count == 1 && byLength.First().Value.Count == 1)   // one segment: no gather
            return Batch(q, k, v, 1, n).reshape(q.shape).MoveToOuterDisposeScope();
        var output = empty_like(q);
        foreach (var (length, starts) in byLength)
        {
            var index = (tensor(starts.ToArray(), device: q.device).unsqueeze(1)
                         + arange(length, dtype: ScalarType.Int64, device: q.device).unsqueeze(0)).reshape(-1);
            var o = Batch(q.index_select(0, index), k.index_select(0, index), v.index_select(0, index), starts.Count, length);
            output.index_copy_(0, index, o.reshape(-1, q.shape[1], q.shape[2]));
        }
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>Rows [count·length, heads, d] as count segments of length rows → [count, length, heads, d].</summary>
    static Tensor Batch(Tensor q, Tensor k, Tensor v, long count, long length)
    {
        Tensor Shape(Tensor x) => x.reshape(count, length, x.shape[1], x.shape[2]).transpose(1, 2);
        return nn.functional.scaled_dot_product_attention(Shape(q), Shape(k), Shape(v)).transpose(1, 2);
    }
}
