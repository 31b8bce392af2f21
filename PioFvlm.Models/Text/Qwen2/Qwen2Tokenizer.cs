using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using PioFvlm.Core.Text;

namespace PioFvlm.Models.Text.Qwen2;

/// <summary>
/// Qwen2's byte-level BPE (Qwen2.5-VL's tokenizer.json) through Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/>
/// with <c>ByteLevel</c> on (spec qwen25vl-torchsharp.md A5): NFC normalisation, Qwen2's split regex (single digits),
/// added tokens cut out whole before the regex runs, no BOS. EOS is <c>&lt;|im_end|&gt;</c>, the end of a chat turn.
/// </summary>
public sealed class Qwen2Tokenizer : ITokenizer
{
    /// <summary>Qwen2's pre-tokenizer split (used when tokenizer.json carries none).</summary>
    public const string SplitPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    readonly BpeTokenizer _bpe;
    readonly Dictionary<int, string> _idToToken;
    readonly Dictionary<string, int> _tokenToId;
    readonly HashSet<int> _special;

    public int? BosId => null;
    public int EosId { get; }
    public int? PadId { get; }
    public int VocabSize { get; }

    Qwen2Tokenizer(BpeTokenizer bpe, Dictionary<string, int> vocab, IReadOnlyDictionary<string, int> added, IEnumerable<int> special, string file)
    {
        _bpe = bpe;
        _tokenToId = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        foreach (var (token, id) in added) _tokenToId[token] = id;
        _idToToken = _tokenToId.ToDictionary(kv => kv.Value, kv => kv.Key);
        _special = special.ToHashSet();
        EosId = _tokenToId.TryGetValue("<|im_end|>", out var eos) ? eos
            : throw new TokenizerFormatException(file, "no <|im_end|> token: not a Qwen2 chat tokenizer");
        PadId = _tokenToId.TryGetValue("<|endoftext|>", out var pad) ? pad : null;
        VocabSize = _idToToken.Keys.Max() + 1;
    }

    /// <summary>Reads a HF tokenizer.json of type BPE (merges as "a b" strings or [a, b] pairs).</summary>
    /// <exception cref="TokenizerFormatException">Not a byte-level BPE tokenizer.json; the message names the field.</exception>
    public static Qwen2Tokenizer FromFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Qwen2 tokenizer.json not found: {path}", path);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = doc.RootElement;
        if (!root.TryGetProperty("model", out var model) || model.GetProperty("type").GetString() != "BPE")
            throw new TokenizerFormatException(path, "model.type must be BPE");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in model.GetProperty("vocab").EnumerateObject()) vocab[p.Name] = p.Value.GetInt32();
        var merges = new List<string>();
        foreach (var m in model.GetProperty("merges").EnumerateArray())
            merges.Add(m.ValueKind == JsonValueKind.Array ? $"{m[0].GetString()} {m[1].GetString()}" : m.GetString()!);
        var added = new Dictionary<string, int>(StringComparer.Ordinal);
        var special = new List<int>();
        if (root.TryGetProperty("added_tokens", out var addedTokens))
            foreach (var a in addedTokens.EnumerateArray())
            {
                int id = a.GetProperty("id").GetInt32();
                added[a.GetProperty("content").GetString()!] = id;
                if (a.TryGetProperty("special", out var s) && s.GetBoolean()) special.Add(id);
            }
        string pattern = FindSplitPattern(root) ?? SplitPattern;
        var options = new BpeOptions(vocab)
        {
            Merges = merges,
            SpecialTokens = added,
            ByteLevel = true,
            PreTokenizer = new RegexPreTokenizer(new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant), added),
            Normalizer = new NfcNormalizer(),
        };
        return new Qwen2Tokenizer(BpeTokenizer.Create(options), vocab, added, special, path);
    }

    /// <summary>The Split pre-tokenizer's regex of tokenizer.json (top level or inside a Sequence).</summary>
    static string? FindSplitPattern(JsonElement root)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object) return null;
        IEnumerable<JsonElement> steps = pre.TryGetProperty("pretokenizers", out var list) ? list.EnumerateArray() : [pre];
        foreach (var step in steps)
            if (step.TryGetProperty("type", out var t) && t.GetString() == "Split" && step.TryGetProperty("pattern", out var p)
                && p.TryGetProperty("Regex", out var regex))
                return regex.GetString();
        return null;
    }

    /// <inheritdoc/> Qwen2 has no BOS: <paramref name="addBos"/> adds nothing.
    public IReadOnlyList<int> Encode(string text, bool addBos) => _bpe.EncodeToIds(text);

    public string Decode(IEnumerable<int> ids, bool skipSpecial = true) =>
        skipSpecial ? _bpe.Decode(ids.Where(id => !_special.Contains(id))) : _bpe.Decode(ids);

    public int? TokenToId(string token) => _tokenToId.TryGetValue(token, out var id) ? id : null;
    public string? IdToToken(int id) => _idToToken.TryGetValue(id, out var token) ? token : null;

    /// <summary>tokenizer.json declares NFC; the library has no NFC normaliser of its own.</summary>
    sealed class NfcNormalizer : Normalizer
    {
        public override string Normalize(string original) => original.Normalize(NormalizationForm.FormC);
        public override string Normalize(ReadOnlySpan<char> original) => original.ToString().Normalize(NormalizationForm.FormC);
    }
}
