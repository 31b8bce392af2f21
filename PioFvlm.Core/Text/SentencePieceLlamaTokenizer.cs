using Microsoft.ML.Tokenizers;

namespace PioFvlm.Core.Text;

/// <summary>
/// A LLaMA/Mistral SentencePiece tokenizer.model read by Microsoft.ML.Tokenizers' <see cref="LlamaTokenizer"/>,
/// with HF's added tokens (llava-hf's &lt;image&gt; = 32000, &lt;pad&gt; = 32001) from added_tokens.json /
/// tokenizer_config.json. Added and control tokens (&lt;s&gt;, &lt;/s&gt;, &lt;unk&gt;) are split out of the text here and every
/// text piece is encoded on its own with the dummy prefix, as HF's legacy LLaMA tokenizers do; the library's own
/// special-token handling is not used because it drops the "▁" after a special token (spec llava.md §8 pitfall 1).
/// Decoding follows the LLaMA decoder: "▁" → space, byte tokens fused as UTF-8, one leading space dropped.
/// </summary>
public sealed class SentencePieceLlamaTokenizer : ITokenizer
{
    readonly string _source;
    readonly LlamaTokenizer _sp;
    readonly AddedTokenSplitter _splitter;
    readonly Dictionary<string, int> _tokenToId;
    readonly string?[] _idToToken;
    readonly HashSet<int> _specialIds;
    readonly TokenDecoder _decoder = TokenDecoder.SentencePieceDefault();

    public int BosId { get; }
    int? ITokenizer.BosId => BosId;
    public int EosId { get; }
    public int UnkId { get; }
    public int? PadId { get; }
    public int VocabSize => _idToToken.Length;
    public IReadOnlyList<AddedToken> AddedTokens => _splitter.Tokens;

    /// <summary>Loads <paramref name="tokenizerModelPath"/>, plus tokenizer_config.json/added_tokens.json from its folder when present.</summary>
    public static SentencePieceLlamaTokenizer FromFile(string tokenizerModelPath)
    {
        if (!File.Exists(tokenizerModelPath)) throw new FileNotFoundException($"Tokenizer file not found: {tokenizerModelPath}", tokenizerModelPath);
        using var stream = File.OpenRead(tokenizerModelPath);
        return new SentencePieceLlamaTokenizer(stream, tokenizerModelPath, SpecialTokenNames.Read(Path.GetDirectoryName(Path.GetFullPath(tokenizerModelPath))));
    }

    /// <summary>Reads a SentencePiece ModelProto from <paramref name="modelStream"/>; <paramref name="addedTokens"/> are the HF extras (ids past the model's pieces).</summary>
    public static SentencePieceLlamaTokenizer Create(Stream modelStream, IEnumerable<AddedToken>? addedTokens = null, string sourceName = "tokenizer.model")
    {
        var names = SpecialTokenNames.Read(null);
        if (addedTokens != null) names.AddedTokens.AddRange(addedTokens);
        return new SentencePieceLlamaTokenizer(modelStream, sourceName, names);
    }

    SentencePieceLlamaTokenizer(Stream modelStream, string file, SpecialTokenNames names)
    {
        _source = file;
        try { _sp = LlamaTokenizer.Create(modelStream, addBeginOfSentence: false, addEndOfSentence: false); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException or Google.Protobuf.InvalidProtocolBufferException)
        {
            throw new TokenizerFormatException(file, $"not a SentencePiece BPE model Microsoft.ML.Tokenizers can read: {e.Message}", e);
        }

        _tokenToId = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (piece, id) in _sp.Vocabulary) _tokenToId[piece] = id;
        BosId = _sp.BeginningOfSentenceId;
        EosId = _sp.EndOfSentenceId;
        UnkId = _sp.UnknownId;

        // Control pieces are matched in text like HF does ("</s>" in a multi-turn prompt is EOS, not characters).
        var added = new List<AddedToken>
        {
            new(BosId, _sp.BeginningOfSentenceToken, Special: true),
            new(EosId, _sp.EndOfSentenceToken, Special: true),
            new(UnkId, _sp.UnknownToken, Special: true),
        };
        foreach (var a in names.AddedTokens)
        {
            if (_tokenToId.TryGetValue(a.Content, out int existing) && existing != a.Id)
                throw new TokenizerFormatException(file, $"added token '{a.Content}' has id {a.Id} but the model file gives it id {existing}");
            if (added.All(x => x.Content != a.Content)) added.Add(a);
        }
        foreach (var a in added) _tokenToId[a.Content] = a.Id;
        _splitter = new AddedTokenSplitter(added);

        _idToToken = new string?[_tokenToId.Values.Max() + 1];
        foreach (var (piece, id) in _tokenToId) _idToToken[id] = piece;

        PadId = names.PadDeclared ? (names.Pad == null ? null : TokenToId(names.Pad) ?? throw new TokenizerFormatException(file, $"pad_token '{names.Pad}' is neither a model piece nor an added token"))
                                  : TokenToId("<pad>");
        _specialIds = [.. added.Where(a => a.Special).Select(a => a.Id)];
        if (PadId is int padId) _specialIds.Add(padId);
    }

    public IReadOnlyList<int> Encode(string text, bool addBos)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        if (addBos) ids.Add(BosId);
        foreach (var segment in _splitter.Split(text))
        {
            if (segment.Token != null) ids.Add(segment.Token.Id);
            else ids.AddRange(_sp.EncodeToIds(segment.Text, addBeginningOfSentence: false, addEndOfSentence: false));
        }
        return ids;
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecial = true) =>
        _decoder.Decode(ids, skipSpecial ? _specialIds : null, IdToToken, _source, VocabSize);

    public int? TokenToId(string token) => _tokenToId.TryGetValue(token, out int id) ? id : null;

    public string? IdToToken(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;
}
