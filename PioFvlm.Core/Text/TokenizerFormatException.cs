namespace PioFvlm.Core.Text;

/// <summary>A tokenizer file is malformed or uses a feature this reader does not support; the message names the file and the key.</summary>
public sealed class TokenizerFormatException : Exception
{
    public string FilePath { get; }

    public TokenizerFormatException(string filePath, string problem, Exception? inner = null)
        : base($"{filePath}: {problem}", inner)
    {
        FilePath = filePath;
    }
}
