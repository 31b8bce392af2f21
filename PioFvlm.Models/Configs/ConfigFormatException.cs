namespace PioFvlm.Models.Configs;

/// <summary>A config.json is malformed, has a value of the wrong type or lacks a required field. The message names
/// the file and the JSON path (e.g. <c>text_config.hidden_size</c>).</summary>
public class ConfigFormatException : Exception
{
    public string FilePath { get; }
    public string? JsonPath { get; }

    public ConfigFormatException(string filePath, string? jsonPath, string problem, Exception? inner = null)
        : base(Format(filePath, jsonPath, problem), inner)
    {
        FilePath = filePath;
        JsonPath = jsonPath;
    }

    static string Format(string file, string? path, string problem) =>
        string.IsNullOrEmpty(path) ? $"{file}: {problem}" : $"{file}: {path}: {problem}";
}
