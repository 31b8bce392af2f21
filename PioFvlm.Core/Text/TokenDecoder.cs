using System.Text;
using System.Text.Json;

namespace PioFvlm.Core.Text;

/// <summary>
/// The "decoder" block of a tokenizer.json as a list of steps over token strings, each as HF defines it:
/// Replace (in every token), ByteFallback (runs of "&lt;0xXX&gt;" tokens become their UTF-8 text, or one U+FFFD per
/// token when the bytes are not valid UTF-8), Fuse (join into one string), Strip (cut up to n leading/trailing
/// copies of a character from every token) and Metaspace (replacement to space, leading space dropped on the first token).
/// </summary>
internal sealed class TokenDecoder
{
    readonly List<Func<List<string>, List<string>>> _steps = [];

    /// <summary>The decoder LLaMA files carry: Replace("▁", " "), ByteFallback, Fuse, Strip(" ", 1, 0).</summary>
    public static TokenDecoder SentencePieceDefault()
    {
        var d = new TokenDecoder();
        d._steps.Add(Replace("\u2581", " "));
        d._steps.Add(ByteFallback);
        d._steps.Add(Fuse);
        d._steps.Add(Strip(' ', 1, 0));
        return d;
    }

    public static TokenDecoder Parse(JsonElement node, string file)
    {
        var d = new TokenDecoder();
        if (node.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined)) d.Add(node, file);
        return d;
    }

    /// <summary>Ids to text: drops <paramref name="skip"/> ids, maps the rest to pieces, runs the decoder chain.</summary>
    /// <exception cref="ArgumentOutOfRangeException">an id outside the vocabulary.</exception>
    public string Decode(IEnumerable<int> ids, IReadOnlySet<int>? skip, Func<int, string?> idToToken, string source, int vocabSize)
    {
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            if (skip != null && skip.Contains(id)) continue;
            tokens.Add(idToToken(id) ?? throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is not in the vocabulary of {source} (size {vocabSize})"));
        }
        return Decode(tokens);
    }

    public string Decode(List<string> tokens)
    {
        foreach (var step in _steps) tokens = step(tokens);
        return string.Concat(tokens);
    }

    void Add(JsonElement node, string file)
    {
        string type = JsonRead.String(node, "type", file, "decoder");
        switch (type)
        {
            case "Sequence":
                foreach (var child in JsonRead.Required(node, "decoders", file, "decoder").EnumerateArray()) Add(child, file);
                break;
            case "Replace":
                var (pattern, content) = JsonRead.ReplacePattern(node, file, "decoder.Replace");
                _steps.Add(Replace(pattern, content));
                break;
            case "ByteFallback":
                _steps.Add(ByteFallback);
                break;
            case "Fuse":
                _steps.Add(Fuse);
                break;
            case "Strip":
                string c = JsonRead.String(node, "content", file, "decoder.Strip");
                if (c.Length != 1) throw new TokenizerFormatException(file, $"decoder.Strip content '{c}' must be one character");
                _steps.Add(Strip(c[0], JsonRead.Required(node, "start", file, "decoder.Strip").GetInt32(), JsonRead.Required(node, "stop", file, "decoder.Strip").GetInt32()));
                break;
            case "Metaspace":
                _steps.Add(Metaspace(MetaspacePreTokenizer.Replacement(node, file), MetaspacePreTokenizer.Scheme(node, file) != "never"));
                break;
            default:
                throw new TokenizerFormatException(file, $"decoder type '{type}' is not supported (LLaMA-style files use Replace, ByteFallback, Fuse, Strip, Metaspace)");
        }
    }

    static Func<List<string>, List<string>> Replace(string pattern, string content) =>
        tokens => tokens.Select(t => t.Replace(pattern, content, StringComparison.Ordinal)).ToList();

    static List<string> Fuse(List<string> tokens) => [string.Concat(tokens)];

    static List<string> ByteFallback(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        var bytes = new List<byte>();
        void Flush()
        {
            if (bytes.Count == 0) return;
            try { output.Add(Strict.GetString(bytes.ToArray())); }
            catch (DecoderFallbackException) { output.AddRange(Enumerable.Repeat("\uFFFD", bytes.Count)); }
            bytes.Clear();
        }
        foreach (var t in tokens)
        {
            if (ByteToken.TryParse(t, out byte b)) { bytes.Add(b); continue; }
            Flush();
            output.Add(t);
        }
        Flush();
        return output;
    }

    static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    static Func<List<string>, List<string>> Strip(char content, int start, int stop) => tokens => tokens.Select(t =>
    {
        int from = 0, to = t.Length;
        while (from < Math.Min(start, t.Length) && t[from] == content) from++;
        while (to > from && t.Length - to < stop && t[to - 1] == content) to--;
        return t[from..to];
    }).ToList();

    static Func<List<string>, List<string>> Metaspace(char replacement, bool stripFirst) => tokens => tokens.Select((t, i) =>
    {
        string s = t.Replace(replacement, ' ');
        return i == 0 && stripFirst && s.StartsWith(' ') ? s[1..] : s;
    }).ToList();
}
