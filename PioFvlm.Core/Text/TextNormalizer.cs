using System.Text.Json;

namespace PioFvlm.Core.Text;

/// <summary>
/// The "normalizer" block of a tokenizer.json, restricted to what LLaMA-style files use:
/// Sequence, Prepend (only on non-empty text, as HF does) and Replace with a plain string pattern.
/// Older LLaMA files spell the SentencePiece dummy prefix this way: Prepend("▁") then Replace(" ", "▁").
/// </summary>
internal sealed class TextNormalizer
{
    readonly List<Func<string, string>> _steps = [];

    public static TextNormalizer Parse(JsonElement node, string file)
    {
        var n = new TextNormalizer();
        if (node.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined)) n.Add(node, file);
        return n;
    }

    public string Apply(string text)
    {
        foreach (var step in _steps) text = step(text);
        return text;
    }

    void Add(JsonElement node, string file)
    {
        string type = JsonRead.String(node, "type", file, "normalizer");
        switch (type)
        {
            case "Sequence":
                foreach (var child in JsonRead.Required(node, "normalizers", file, "normalizer").EnumerateArray()) Add(child, file);
                break;
            case "Prepend":
                string prefix = JsonRead.String(node, "prepend", file, "normalizer.Prepend");
                _steps.Add(s => s.Length == 0 ? s : prefix + s);
                break;
            case "Replace":
                var (pattern, content) = JsonRead.ReplacePattern(node, file, "normalizer.Replace");
                _steps.Add(s => s.Replace(pattern, content, StringComparison.Ordinal));
                break;
            default:
                throw new TokenizerFormatException(file, $"normalizer type '{type}' is not supported (LLaMA-style files use Sequence, Prepend, Replace)");
        }
    }
}
