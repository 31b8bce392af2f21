namespace PioFvlm.Core.Text;

/// <summary>Opens the tokenizer of a model folder.</summary>
public static class TokenizerLoader
{
    /// <summary>
    /// tokenizer.json (HF fast format, read by <see cref="LlamaTokenizerJson"/>) when present, else tokenizer.model
    /// (SentencePiece, read by <see cref="SentencePieceLlamaTokenizer"/>); both take special and added tokens from
    /// tokenizer_config.json / added_tokens.json in the same folder.
    /// </summary>
    public static ITokenizer FromFolder(string directory)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"Tokenizer folder not found: {directory}");
        string json = Path.Combine(directory, "tokenizer.json");
        if (File.Exists(json)) return LlamaTokenizerJson.FromFile(json);
        string model = Path.Combine(directory, "tokenizer.model");
        if (File.Exists(model)) return SentencePieceLlamaTokenizer.FromFile(model);
        throw new FileNotFoundException($"No tokenizer in {Path.GetFullPath(directory)}: expected tokenizer.json or tokenizer.model");
    }
}
