namespace PioFvlm.Core.Vision;

/// <summary>An image could not be decoded; the message names the source (file path or a caller-given name).</summary>
public sealed class ImageDecodeException : Exception
{
    /// <summary>The file path, or the name the caller gave for in-memory data.</summary>
    public string SourceName { get; }

    public ImageDecodeException(string sourceName, string problem, Exception? inner = null)
        : base($"{sourceName}: {problem}", inner)
    {
        SourceName = sourceName;
    }
}
