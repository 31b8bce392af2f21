using static TorchSharp.torch;

namespace PioFvlm.Core.Runtime;

/// <summary>Bytes per element of the dtypes this project stores or computes in (the one table; callers that accept
/// fewer dtypes check that themselves).</summary>
public static class ElementSize
{
    /// <exception cref="NotSupportedException">A dtype without a known size here.</exception>
    public static int Of(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 or ScalarType.Int64 or ScalarType.ComplexFloat32 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        ScalarType.Int8 or ScalarType.Byte or ScalarType.Bool => 1,
        _ => throw new NotSupportedException($"dtype {dtype}: element size unknown"),
    };
}
