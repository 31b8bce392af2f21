using System.Text.Json;

namespace PioFvlm.Core.Text;

/// <summary>Small typed readers for tokenizer JSON files whose errors name the file and the key.</summary>
internal static class JsonRead
{
    public static JsonElement Required(JsonElement node, string key, string file, string where)
    {
        if (node.ValueKind != JsonValueKind.Object || !node.TryGetProperty(key, out var value))
            throw new TokenizerFormatException(file, $"{where}: missing key '{key}'");
        return value;
    }

    public static string String(JsonElement node, string key, string file, string where)
    {
        var value = Required(node, key, file, where);
        if (value.ValueKind != JsonValueKind.String)
            throw new TokenizerFormatException(file, $"{where}.{key}: expected a string, found {value.ValueKind}");
        return value.GetString()!;
    }

    public static bool Bool(JsonElement node, string key, bool fallback) =>
        node.TryGetProperty(key, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;

    public static JsonElement Optional(JsonElement node, string key) =>
        node.ValueKind == JsonValueKind.Object && node.TryGetProperty(key, out var v) ? v : default;

    /// <summary>A "Replace" step: pattern {"String": "..."} (a Regex pattern is refused) and content.</summary>
    public static (string Pattern, string Content) ReplacePattern(JsonElement node, string file, string where)
    {
        var pattern = Required(node, "pattern", file, where);
        if (!pattern.TryGetProperty("String", out var s) || s.ValueKind != JsonValueKind.String)
            throw new TokenizerFormatException(file, $"{where}.pattern: only a plain String pattern is supported, found {pattern.GetRawText()}");
        return (s.GetString()!, String(node, "content", file, where));
    }

    /// <summary>A special-token entry of tokenizer_config.json: a plain string or an object with "content".</summary>
    public static string? TokenContent(JsonElement node) => node.ValueKind switch
    {
        JsonValueKind.String => node.GetString(),
        JsonValueKind.Object when node.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
        _ => null,
    };
}
