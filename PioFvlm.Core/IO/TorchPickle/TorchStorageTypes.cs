using static TorchSharp.torch;

namespace PioFvlm.Core.IO.TorchPickle;

/// <summary>The typed storage classes torch.save names in persistent ids (<c>torch.FloatStorage</c>, ...).</summary>
internal static class TorchStorageTypes
{
    static readonly Dictionary<string, ScalarType> ByName = new(StringComparer.Ordinal)
    {
        ["FloatStorage"] = ScalarType.Float32,
        ["DoubleStorage"] = ScalarType.Float64,
        ["HalfStorage"] = ScalarType.Float16,
        ["BFloat16Storage"] = ScalarType.BFloat16,
        ["LongStorage"] = ScalarType.Int64,
        ["IntStorage"] = ScalarType.Int32,
        ["ShortStorage"] = ScalarType.Int16,
        ["CharStorage"] = ScalarType.Int8,
        ["ByteStorage"] = ScalarType.Byte,
        ["BoolStorage"] = ScalarType.Bool,
    };

    public static bool TryGetDType(string className, out ScalarType dtype) => ByName.TryGetValue(className, out dtype);

    /// <summary>The class name torch.save writes for tensors of <paramref name="dtype"/>.</summary>
    public static string ClassNameOf(ScalarType dtype) =>
        ByName.FirstOrDefault(p => p.Value == dtype).Key
        ?? throw new NotSupportedException($"dtype {dtype} has no torch storage class supported here");

    public static int ElementSize(ScalarType dtype) => ByName.ContainsValue(dtype)
        ? Runtime.ElementSize.Of(dtype)
        : throw new NotSupportedException($"dtype {dtype} is not a torch storage dtype supported here");
}
