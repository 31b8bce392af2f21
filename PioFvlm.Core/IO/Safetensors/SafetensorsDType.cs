using static TorchSharp.torch;

namespace PioFvlm.Core.IO.Safetensors;

/// <summary>The safetensors dtype names this project reads and writes, and their torch equivalents.</summary>
public static class SafetensorsDType
{
    static readonly (string Name, ScalarType Type, int Size)[] Table =
    [
        ("F64", ScalarType.Float64, 8),
        ("F32", ScalarType.Float32, 4),
        ("F16", ScalarType.Float16, 2),
        ("BF16", ScalarType.BFloat16, 2),
        ("I64", ScalarType.Int64, 8),
        ("I32", ScalarType.Int32, 4),
        ("I16", ScalarType.Int16, 2),
        ("I8", ScalarType.Int8, 1),
        ("U8", ScalarType.Byte, 1),
        ("BOOL", ScalarType.Bool, 1),
    ];

    /// <summary>Every supported dtype name, as written in headers.</summary>
    public static IEnumerable<string> Names => Table.Select(e => e.Name);

    /// <summary>The torch type and element size for a header dtype name; false for names we do not support.</summary>
    public static bool TryParse(string name, out ScalarType type, out int elementSize)
    {
        foreach (var e in Table)
        {
            if (e.Name == name)
            {
                (type, elementSize) = (e.Type, e.Size);
                return true;
            }
        }
        (type, elementSize) = (default, 0);
        return false;
    }

    /// <summary>The header dtype name and element size for a torch type; false for types safetensors here cannot hold.</summary>
    public static bool TryGetName(ScalarType type, out string name, out int elementSize)
    {
        foreach (var e in Table)
        {
            if (e.Type == type)
            {
                (name, elementSize) = (e.Name, e.Size);
                return true;
            }
        }
        (name, elementSize) = ("", 0);
        return false;
    }
}
