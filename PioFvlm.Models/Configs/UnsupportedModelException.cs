namespace PioFvlm.Models.Configs;

/// <summary>The config.json describes a model family PioFvlm does not run; the message lists the supported ones.</summary>
public sealed class UnsupportedModelException : ConfigFormatException
{
    public UnsupportedModelException(string filePath, string? jsonPath, string problem)
        : base(filePath, jsonPath, problem)
    {
    }
}
