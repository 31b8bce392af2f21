namespace PioFvlm.Core.Text;

/// <summary>Opens the tokenizer of a model folder.</summary>
public static class TokenizerLoader
{
    const string JsonFile = "tokenizer.json", SentencePieceFile = "tokenizer.model";

    /// <summary>Whether <paramref name="directory"/> holds a tokenizer <see cref="FromFolder"/> can open.</summary>
    public static bool HasTokenizer(string directory) =>
        File.Exists(Path.Combine(directory, JsonFile)) || File.Exists(Path.Combine(directory, SentencePieceFile));

    /// <summary>
    /// tokenizer.json (HF fast format, read by <see cref="LlamaTokenizerJson"/>) when present, else tokenizer.model
    /// (SentencePiece, read by <see cref="SentencePieceLlamaTokenizer"/>); both take special and added tokens from
    /// tokenizer_config.json / added_tokens.json in the same folder.
    /// </summary>
    public static ITokenizer FromFolder(string directory)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"Tokenizer folder not found: {directory}");
        string json = Path.Combine(directory, JsonFile);
        if (File.Exists(json)) return LlamaTokenizerJson.FromFile(json);
        string model = Path.Combine(directory, SentencePieceFile);
        if (File.Exists(model)) return SentencePieceLlamaTokenizer.FromFile(model);
        throw new FileNotFoundException($"No tokenizer in {Path.GetFullPath(directory)}: expected tokenizer.json or tokenizer.model");
    }
}
