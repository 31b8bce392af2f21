using System.Text.Json;

namespace PioFvlm.Core.Text;

/// <summary>
/// The newer spelling of the SentencePiece dummy prefix (pre_tokenizer "Metaspace"): spaces become the
/// replacement character, which is prepended unless the text already starts with it, for every piece
/// ("always") or only for the piece at offset 0 of the input ("first"); with "split" the text is cut before each
/// replacement character. A null pre_tokenizer keeps the whole piece as one word.
/// </summary>
internal sealed class MetaspacePreTokenizer
{
    readonly char _replacement;
    readonly string _scheme; // "always", "first" or "never"
    readonly bool _split;

    MetaspacePreTokenizer(char replacement, string scheme, bool split)
    {
        _replacement = replacement;
        _scheme = scheme;
        _split = split;
    }

    /// <summary>Null when the file has no pre_tokenizer.</summary>
    public static MetaspacePreTokenizer? Parse(JsonElement node, string file)
    {
        if (node.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined) return null;
        string type = JsonRead.String(node, "type", file, "pre_tokenizer");
        if (type == "Sequence")
        {
            var children = JsonRead.Required(node, "pretokenizers", file, "pre_tokenizer").EnumerateArray().ToList();
            if (children.Count != 1)
                throw new TokenizerFormatException(file, $"pre_tokenizer Sequence with {children.Count} entries is not supported (expected a single Metaspace)");
            return Parse(children[0], file);
        }
        if (type != "Metaspace")
            throw new TokenizerFormatException(file, $"pre_tokenizer type '{type}' is not supported (LLaMA-style files use none or Metaspace)");
        return new MetaspacePreTokenizer(Replacement(node, file), Scheme(node, file), !node.TryGetProperty("split", out var s) || s.GetBoolean());
    }

    internal static char Replacement(JsonElement node, string file)
    {
        string r = JsonRead.String(node, "replacement", file, "Metaspace");
        if (r.Length != 1) throw new TokenizerFormatException(file, $"Metaspace replacement '{r}' must be one character");
        return r[0];
    }

    internal static string Scheme(JsonElement node, string file)
    {
        if (node.TryGetProperty("prepend_scheme", out var p) && p.ValueKind == JsonValueKind.String)
        {
            string scheme = p.GetString()!;
            if (scheme is not ("always" or "first" or "never"))
                throw new TokenizerFormatException(file, $"Metaspace prepend_scheme '{scheme}' is not one of always, first, never");
            return scheme;
        }
        // Files written before prepend_scheme existed carry add_prefix_space (default true).
        return !node.TryGetProperty("add_prefix_space", out var a) || a.GetBoolean() ? "always" : "never";
    }

    public IEnumerable<string> Words(string text, bool atInputStart)
    {
        string s = text.Replace(' ', _replacement);
        bool prepend = _scheme == "always" || (_scheme == "first" && atInputStart);
        if (prepend && s.Length > 0 && s[0] != _replacement) s = _replacement + s;
        if (!_split) { yield return s; yield break; }
        int start = 0;
        for (int i = 1; i < s.Length; i++)
            if (s[i] == _replacement) { yield return s[start..i]; start = i; }
        if (start < s.Length) yield return s[start..];
    }
}
