using static TorchSharp.torch;

namespace PioFvlm.Bench.Commands;

/// <summary>The weight dtypes the tools accept by name (generate --dtype, eval's Run:Model:DType, the measurement rig's
/// --dtype), case-insensitive, with the usual short forms.</summary>
public static class DTypeNames
{
    /// <summary>The canonical names, for messages.</summary>
    public const string Names = "Float32, BFloat16, Float16";

    public static bool TryParse(string value, out ScalarType dtype)
    {
        ScalarType? parsed = value.ToLowerInvariant() switch
        {
            "float32" or "fp32" or "f32" or "float" => ScalarType.Float32,
            "bfloat16" or "bf16" => ScalarType.BFloat16,
            "float16" or "fp16" or "f16" or "half" => ScalarType.Float16,
            _ => null,
        };
        dtype = parsed ?? default;
        return parsed.HasValue;
    }

    /// <summary>The dtype of command-line option <paramref name="option"/>; a usage error names the option and the value.</summary>
    public static ScalarType ParseOption(string? value, string option, ScalarType fallback) =>
        value is null ? fallback
        : TryParse(value, out var dtype) ? dtype
        : throw new UsageException($"{option} must be one of {Names}, got '{value}'");
}
