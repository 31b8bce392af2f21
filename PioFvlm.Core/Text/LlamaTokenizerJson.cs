using System.Text.Json;

namespace PioFvlm.Core.Text;

/// <summary>
/// A LLaMA-style HF fast tokenizer read from tokenizer.json: BPE model with byte fallback, the SentencePiece dummy
/// prefix spelled either as normalizer Prepend("▁") + Replace(" ", "▁") (older files) or as a Metaspace
/// pre-tokenizer (newer files), added tokens matched in raw text first, and the file's decoder chain.
/// Special ids come from tokenizer_config.json beside the file when present.
/// </summary>
public sealed class LlamaTokenizerJson : ITokenizer
{
    readonly string _source;
    readonly BpeModel _bpe;
    readonly TextNormalizer _normalizer;
    readonly MetaspacePreTokenizer? _preTokenizer;
    readonly TokenDecoder _decoder;
    readonly AddedTokenSplitter _splitter;
    readonly Dictionary<string, int> _tokenToId;
    readonly string?[] _idToToken;
    readonly HashSet<int> _specialIds;

    public int BosId { get; }
    int? ITokenizer.BosId => BosId;
    public int EosId { get; }
    public int UnkId { get; }
    public int? PadId { get; }
    public int VocabSize => _idToToken.Length;
    public IReadOnlyList<AddedToken> AddedTokens => _splitter.Tokens;

    /// <summary>Loads <paramref name="tokenizerJsonPath"/>, plus tokenizer_config.json/added_tokens.json from its folder when present.</summary>
    public static LlamaTokenizerJson FromFile(string tokenizerJsonPath)
    {
        if (!File.Exists(tokenizerJsonPath)) throw new FileNotFoundException($"Tokenizer file not found: {tokenizerJsonPath}", tokenizerJsonPath);
        return FromJson(File.ReadAllText(tokenizerJsonPath), tokenizerJsonPath, Path.GetDirectoryName(Path.GetFullPath(tokenizerJsonPath)));
    }

    /// <summary>Parses tokenizer.json text; <paramref name="sourceName"/> names it in errors; <paramref name="configDirectory"/> (optional) holds tokenizer_config.json.</summary>
    public static LlamaTokenizerJson FromJson(string json, string sourceName = "tokenizer.json", string? configDirectory = null)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new TokenizerFormatException(sourceName, $"not valid JSON: {e.Message}", e); }
        using (doc) return new LlamaTokenizerJson(doc.RootElement, sourceName, SpecialTokenNames.Read(configDirectory));
    }

    LlamaTokenizerJson(JsonElement root, string file, SpecialTokenNames names)
    {
        _source = file;
        var model = JsonRead.Required(root, "model", file, "root");
        string type = model.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "BPE";
        if (type != "BPE") throw new TokenizerFormatException(file, $"model.type '{type}' is not supported (expected BPE)");
        foreach (var key in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (JsonRead.Optional(model, key).ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined))
                throw new TokenizerFormatException(file, $"model.{key} is set; LLaMA-style BPE does not use it");
        var dropout = JsonRead.Optional(model, "dropout");
        if (dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() > 0)
            throw new TokenizerFormatException(file, "model.dropout > 0 makes encoding random; not supported");

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in JsonRead.Required(model, "vocab", file, "model").EnumerateObject()) vocab[entry.Name] = entry.Value.GetInt32();
        var merges = ReadMerges(JsonRead.Required(model, "merges", file, "model"), file);

        var addedTokens = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
            foreach (var a in added.EnumerateArray())
                addedTokens.Add(new AddedToken(JsonRead.Required(a, "id", file, "added_tokens[]").GetInt32(), JsonRead.String(a, "content", file, "added_tokens[]"),
                    JsonRead.Bool(a, "special", false), JsonRead.Bool(a, "lstrip", false), JsonRead.Bool(a, "rstrip", false)));
        foreach (var a in names.AddedTokens)
            if (addedTokens.All(x => x.Content != a.Content)) addedTokens.Add(a);

        _tokenToId = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        foreach (var a in addedTokens) _tokenToId[a.Content] = a.Id;
        _idToToken = new string?[_tokenToId.Values.Max() + 1];
        foreach (var (token, id) in vocab) _idToToken[id] = token;
        foreach (var a in addedTokens) _idToToken[a.Id] = a.Content;

        string? unkName = JsonRead.Optional(model, "unk_token").ValueKind == JsonValueKind.String ? model.GetProperty("unk_token").GetString() : names.Unk;
        int? unkId = unkName != null && _tokenToId.TryGetValue(unkName, out int u) ? u : null;
        _bpe = new BpeModel(vocab, merges, unkId, JsonRead.Bool(model, "byte_fallback", false), JsonRead.Bool(model, "fuse_unk", false), file);
        _normalizer = TextNormalizer.Parse(JsonRead.Optional(root, "normalizer"), file);
        _preTokenizer = MetaspacePreTokenizer.Parse(JsonRead.Optional(root, "pre_tokenizer"), file);
        _decoder = TokenDecoder.Parse(JsonRead.Optional(root, "decoder"), file);
        _splitter = new AddedTokenSplitter(addedTokens);

        BosId = RequireId(names.Bos, "bos_token");
        EosId = RequireId(names.Eos, "eos_token");
        UnkId = unkId ?? RequireId(names.Unk, "unk_token");
        PadId = names.PadDeclared ? (names.Pad == null ? null : RequireId(names.Pad, "pad_token"))
                                  : _tokenToId.TryGetValue("<pad>", out int p) ? p : null;
        _specialIds = [.. addedTokens.Where(a => a.Special).Select(a => a.Id), BosId, EosId, UnkId];
        if (PadId is int padId) _specialIds.Add(padId);
    }

    int RequireId(string token, string key) =>
        _tokenToId.TryGetValue(token, out int id) ? id : throw new TokenizerFormatException(_source, $"{key} '{token}' is neither in model.vocab nor in added_tokens");

    static List<(string, string)> ReadMerges(JsonElement merges, string file)
    {
        var list = new List<(string, string)>(merges.GetArrayLength());
        int i = 0;
        foreach (var m in merges.EnumerateArray())
        {
            if (m.ValueKind == JsonValueKind.String)
            {
                // Older files: "left right"; pieces never contain a plain space (it is spelled "▁").
                string s = m.GetString()!;
                int space = s.IndexOf(' ');
                if (space <= 0 || space == s.Length - 1 || s.IndexOf(' ', space + 1) >= 0)
                    throw new TokenizerFormatException(file, $"model.merges[{i}] = \"{s}\" is not two pieces separated by one space");
                list.Add((s[..space], s[(space + 1)..]));
            }
            else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2)
                list.Add((m[0].GetString()!, m[1].GetString()!));
            else
                throw new TokenizerFormatException(file, $"model.merges[{i}] is neither \"a b\" nor [\"a\", \"b\"]");
            i++;
        }
        return list;
    }

    public IReadOnlyList<int> Encode(string text, bool addBos) => Encode(text, addBos, matchAddedTokens: true);

    /// <summary>As <see cref="Encode(string, bool)"/>; with <paramref name="matchAddedTokens"/> false, added tokens in the text are spelled out like any text (as raw SentencePiece would).</summary>
    public IReadOnlyList<int> Encode(string text, bool addBos, bool matchAddedTokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        if (addBos) ids.Add(BosId);
        var segments = matchAddedTokens ? _splitter.Split(text) : (text.Length == 0 ? [] : [new TextSegment(text, 0, null)]);
        foreach (var segment in segments)
        {
            if (segment.Token != null) { ids.Add(segment.Token.Id); continue; }
            string normalized = _normalizer.Apply(segment.Text);
            if (_preTokenizer == null) _bpe.EncodeWord(normalized, ids);
            else foreach (var word in _preTokenizer.Words(normalized, segment.Offset == 0)) _bpe.EncodeWord(word, ids);
        }
        return ids;
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecial = true) =>
        _decoder.Decode(ids, skipSpecial ? _specialIds : null, IdToToken, _source, VocabSize);

    public int? TokenToId(string token) => _tokenToId.TryGetValue(token, out int id) ? id : null;

    public string? IdToToken(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;
}
