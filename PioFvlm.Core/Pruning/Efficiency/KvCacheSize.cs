using PioFvlm.Core.Nn;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Efficiency;

/// <summary>Theoretical key/value cache size: Σ_layers 2 · kv_heads · head_dim · len_l · bytes(dtype), batch 1.</summary>
public static class KvCacheSize
{
    /// <summary>Bytes for a cache whose layer l holds <paramref name="lengthPerLayer"/>[l] positions (after pruning the
    /// layers differ: earlier layers keep what they saw).</summary>
    public static long Bytes(DecoderDims dims, IReadOnlyList<long> lengthPerLayer, ScalarType dtype)
    {
        if (lengthPerLayer.Count != dims.NumLayers)
            throw new ArgumentException($"{lengthPerLayer.Count} per-layer lengths for a {dims.NumLayers}-layer decoder");
        return checked(lengthPerLayer.Sum() * BytesPerPosition(dims, dtype));
    }

    /// <summary>K and V bytes of one position in one layer.</summary>
    public static long BytesPerPosition(DecoderDims dims, ScalarType dtype) => 2L * dims.NumKvHeads * dims.HeadDim * ElementSize(dtype);

    /// <summary>Size in bytes of one element of a floating-point cache dtype.</summary>
    public static int ElementSize(ScalarType dtype) => dtype is ScalarType.Float64 or ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16
        ? Runtime.ElementSize.Of(dtype)
        : throw new NotSupportedException($"KV cache dtype {dtype} is not supported (Float16, BFloat16, Float32, Float64)");
}
