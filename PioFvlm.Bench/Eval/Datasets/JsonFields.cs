using System.Text.Json;

namespace PioFvlm.Bench.Eval.Datasets;

/// <summary>Field access for benchmark json, where ids come as numbers or strings depending on the file.</summary>
static class JsonFields
{
    /// <summary>A string or number field as text (a number keeps its json spelling, e.g. 42 → "42"); null if absent.</summary>
    public static string? Text(JsonElement obj, string name)
    {
        if (!obj.TryGetProperty(name, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number => v.GetRawText(),
            JsonValueKind.Null => null,
            _ => throw new FormatException($"field '{name}' is {v.ValueKind}, expected a string or a number"),
        };
    }

    public static string Required(JsonElement obj, string name) =>
        Text(obj, name) ?? throw new FormatException($"missing field '{name}'");

    /// <summary>Any json value as a string: strings as they are, everything else as raw json.</summary>
    public static string AnyAsText(JsonElement v) => v.ValueKind == JsonValueKind.String ? v.GetString()! : v.GetRawText();

    /// <summary>Reads a json(l) file's non-empty lines with their 1-based line numbers.</summary>
    public static IEnumerable<(int Line, string Text)> Lines(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"file not found: {path}", path);
        int n = 0;
        foreach (var line in File.ReadLines(path))
        {
            n++;
            if (!string.IsNullOrWhiteSpace(line)) yield return (n, line);
        }
    }

    public static JsonDocument ParseFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"file not found: {path}", path);
        try { return JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new EvalDataException($"{path}: not valid json: {e.Message}", e); }
    }
}
