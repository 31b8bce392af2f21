namespace PioFvlm.Core.IO;

/// <summary>A checkpoint file is malformed; the message names the file and, where known, the tensor.</summary>
public sealed class CheckpointFormatException : Exception
{
    public string FilePath { get; }
    public string? TensorName { get; }

    public CheckpointFormatException(string filePath, string problem, string? tensorName = null, Exception? inner = null)
        : base(Format(filePath, problem, tensorName), inner)
    {
        FilePath = filePath;
        TensorName = tensorName;
    }

    static string Format(string file, string problem, string? tensor) =>
        tensor == null ? $"{file}: {problem}" : $"{file}: tensor '{tensor}': {problem}";
}
