using System.Globalization;
using System.Text.Json;

namespace PioFvlm.Models.Configs;

/// <summary>Typed reads from one JSON object of a config.json, with the JSON path kept for messages.
/// "Absent" means the key is missing; an explicit <c>null</c> is only accepted by the nullable getters, because HF
/// uses it to mean "none" (e.g. <c>sliding_window: null</c> disables the window, overriding the class default).
/// An optional fallback object is consulted for keys the primary lacks (Qwen2.5-VL: <c>text_config.X</c>, else the
/// top-level <c>X</c>).</summary>
internal sealed class ConfigReader
{
    readonly JsonElement _obj;
    readonly ConfigReader? _fallback;

    public string File { get; }
    public string Path { get; }

    public ConfigReader(JsonElement obj, string file, string path, ConfigReader? fallback = null)
    {
        _obj = obj;
        File = file;
        Path = path;
        _fallback = fallback;
    }

    /// <summary>A reader over an empty object at <paramref name="path"/>: every field takes its default.</summary>
    public static ConfigReader Empty(string file, string path) => new(EmptyObject, file, path);

    static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();

    public ConfigReader WithFallback(ConfigReader fallback) => new(_obj, File, Path, fallback);

    public string At(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

    public ConfigFormatException Error(string key, string problem) => new(File, At(key), problem);

    public bool Has(string key) => TryFind(key, out _, out _);

    bool TryFind(string key, out JsonElement value, out string path)
    {
        if (_obj.TryGetProperty(key, out value))
        {
            path = At(key);
            return true;
        }
        if (_fallback != null) return _fallback.TryFind(key, out value, out path);
        path = At(key);
        return false;
    }

    ConfigFormatException Missing(string key)
    {
        var where = _fallback == null ? "" : $" (looked for {At(key)} and {_fallback.At(key)})";
        return new ConfigFormatException(File, At(key), $"required field is missing{where}");
    }

    static string Describe(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => $"string \"{v.GetString()}\"",
        JsonValueKind.Number => $"number {v.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => $"boolean {v.GetRawText()}",
        JsonValueKind.Null => "null",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        _ => v.ValueKind.ToString(),
    };

    static ConfigFormatException WrongType(string file, string path, string expected, JsonElement v) =>
        new(file, path, $"expected {expected}, got {Describe(v)}");

    int ToInt(JsonElement v, string path)
    {
        if (v.ValueKind == JsonValueKind.Number)
        {
            if (v.TryGetInt32(out var i)) return i;
            // Python may write an integral value as 4096.0; accept it, reject 4096.5.
            if (v.TryGetDouble(out var d) && d == Math.Floor(d) && d >= int.MinValue && d <= int.MaxValue) return (int)d;
        }
        throw WrongType(File, path, "an integer", v);
    }

    double ToDouble(JsonElement v, string path) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) ? d : throw WrongType(File, path, "a number", v);

    // ---- integers ----

    public int Int(string key, int defaultValue)
    {
        if (!TryFind(key, out var v, out var path)) return defaultValue;
        return ToInt(v, path);
    }

    public int RequireInt(string key) =>
        TryFind(key, out var v, out var path) ? ToInt(v, path) : throw Missing(key);

    /// <summary>Absent: <paramref name="defaultIfAbsent"/>; explicit null: null.</summary>
    public int? NullableInt(string key, int? defaultIfAbsent)
    {
        if (!TryFind(key, out var v, out var path)) return defaultIfAbsent;
        return v.ValueKind == JsonValueKind.Null ? null : ToInt(v, path);
    }

    /// <summary>An int or a list of ints (HF <c>eos_token_id</c>, <c>vision_feature_layer</c>); absent or null gives
    /// <paramref name="defaultIfAbsent"/>.</summary>
    public IReadOnlyList<int> IntOrIntList(string key, IReadOnlyList<int> defaultIfAbsent)
    {
        if (!TryFind(key, out var v, out var path) || v.ValueKind == JsonValueKind.Null) return defaultIfAbsent;
        if (v.ValueKind == JsonValueKind.Array) return IntArray(v, path);
        return [ToInt(v, path)];
    }

    public IReadOnlyList<int> IntList(string key, IReadOnlyList<int> defaultIfAbsent)
    {
        if (!TryFind(key, out var v, out var path)) return defaultIfAbsent;
        if (v.ValueKind != JsonValueKind.Array) throw WrongType(File, path, "a list of integers", v);
        return IntArray(v, path);
    }

    public IReadOnlyList<int>? NullableIntList(string key)
    {
        if (!TryFind(key, out var v, out var path) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Array) throw WrongType(File, path, "a list of integers", v);
        return IntArray(v, path);
    }

    int[] IntArray(JsonElement array, string path)
    {
        var result = new int[array.GetArrayLength()];
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            result[i] = ToInt(item, $"{path}[{i}]");
            i++;
        }
        return result;
    }

    /// <summary>A list of integer pairs, e.g. <c>image_grid_pinpoints [[336,672],...]</c>.</summary>
    public IReadOnlyList<(int First, int Second)>? NullableIntPairs(string key)
    {
        if (!TryFind(key, out var v, out var path) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Array) throw WrongType(File, path, "a list of [a, b] pairs", v);
        var result = new List<(int, int)>();
        var i = 0;
        foreach (var item in v.EnumerateArray())
        {
            var itemPath = $"{path}[{i}]";
            if (item.ValueKind != JsonValueKind.Array || item.GetArrayLength() != 2)
                throw WrongType(File, itemPath, "a pair [a, b]", item);
            var pair = IntArray(item, itemPath);
            result.Add((pair[0], pair[1]));
            i++;
        }
        return result;
    }

    // ---- other scalars ----

    public double Double(string key, double defaultValue)
    {
        if (!TryFind(key, out var v, out var path)) return defaultValue;
        return ToDouble(v, path);
    }

    public bool Bool(string key, bool defaultValue)
    {
        if (!TryFind(key, out var v, out var path)) return defaultValue;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw WrongType(File, path, "a boolean", v),
        };
    }

    public string String(string key, string defaultValue) => NullableString(key) ?? defaultValue;

    public string RequireString(string key) => NullableString(key) ?? throw Missing(key);

    public string? NullableString(string key)
    {
        if (!TryFind(key, out var v, out var path) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw WrongType(File, path, "a string", v);
    }

    public IReadOnlyList<string> StringList(string key)
    {
        if (!TryFind(key, out var v, out var path) || v.ValueKind == JsonValueKind.Null) return [];
        if (v.ValueKind != JsonValueKind.Array) throw WrongType(File, path, "a list of strings", v);
        var result = new List<string>();
        var i = 0;
        foreach (var item in v.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String) throw WrongType(File, $"{path}[{i}]", "a string", item);
            result.Add(item.GetString()!);
            i++;
        }
        return result;
    }

    /// <summary>A nested object, or null when absent or explicitly null. The child has no fallback.</summary>
    public ConfigReader? Object(string key)
    {
        if (!TryFind(key, out var v, out var path) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Object) throw WrongType(File, path, "an object", v);
        return new ConfigReader(v, File, path);
    }

    /// <summary>A positive integer (sizes, counts): absent gives the default, zero or negative is an error.</summary>
    public int PositiveInt(string key, int defaultValue)
    {
        var value = Int(key, defaultValue);
        return value > 0 ? value : throw Error(key, $"must be positive, got {value.ToString(CultureInfo.InvariantCulture)}");
    }

    public int RequirePositiveInt(string key)
    {
        var value = RequireInt(key);
        return value > 0 ? value : throw Error(key, $"must be positive, got {value.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>v4 <c>torch_dtype</c> or v5 <c>dtype</c>.</summary>
    public string? DType() => NullableString("dtype") ?? NullableString("torch_dtype");
}
