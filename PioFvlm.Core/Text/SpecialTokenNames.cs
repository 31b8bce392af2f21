using System.Text.Json;

namespace PioFvlm.Core.Text;

/// <summary>
/// The names of BOS/EOS/UNK/PAD and the extra added tokens a tokenizer folder declares in tokenizer_config.json
/// (bos_token, eos_token, unk_token, pad_token, added_tokens_decoder) and added_tokens.json. Missing files or keys
/// keep the LLaMA defaults (&lt;s&gt;, &lt;/s&gt;, &lt;unk&gt;; no pad).
/// </summary>
internal sealed class SpecialTokenNames
{
    public string Bos { get; private set; } = "<s>";
    public string Eos { get; private set; } = "</s>";
    public string Unk { get; private set; } = "<unk>";
    public string? Pad { get; private set; }
    public bool PadDeclared { get; private set; }
    public List<AddedToken> AddedTokens { get; } = [];

    public static SpecialTokenNames Read(string? directory)
    {
        var names = new SpecialTokenNames();
        if (directory == null) return names;

        string config = Path.Combine(directory, "tokenizer_config.json");
        if (File.Exists(config))
        {
            using var doc = Parse(config);
            var root = doc.RootElement;
            names.Bos = JsonRead.TokenContent(JsonRead.Optional(root, "bos_token")) ?? names.Bos;
            names.Eos = JsonRead.TokenContent(JsonRead.Optional(root, "eos_token")) ?? names.Eos;
            names.Unk = JsonRead.TokenContent(JsonRead.Optional(root, "unk_token")) ?? names.Unk;
            if (root.TryGetProperty("pad_token", out var pad))
            {
                names.PadDeclared = true;
                names.Pad = JsonRead.TokenContent(pad);
            }
            if (root.TryGetProperty("added_tokens_decoder", out var decoder) && decoder.ValueKind == JsonValueKind.Object)
                foreach (var entry in decoder.EnumerateObject())
                {
                    if (!int.TryParse(entry.Name, out int id))
                        throw new TokenizerFormatException(config, $"added_tokens_decoder key '{entry.Name}' is not an integer id");
                    string content = JsonRead.String(entry.Value, "content", config, $"added_tokens_decoder.{entry.Name}");
                    names.AddedTokens.Add(new AddedToken(id, content, JsonRead.Bool(entry.Value, "special", true),
                        JsonRead.Bool(entry.Value, "lstrip", false), JsonRead.Bool(entry.Value, "rstrip", false)));
                }
        }

        string added = Path.Combine(directory, "added_tokens.json");
        if (File.Exists(added))
        {
            using var doc = Parse(added);
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.Number)
                    throw new TokenizerFormatException(added, $"'{entry.Name}': expected an integer id, found {entry.Value.ValueKind}");
                if (names.AddedTokens.All(t => t.Content != entry.Name))
                    names.AddedTokens.Add(new AddedToken(entry.Value.GetInt32(), entry.Name, Special: true));
            }
        }
        return names;
    }

    static JsonDocument Parse(string file)
    {
        try { return JsonDocument.Parse(File.ReadAllBytes(file)); }
        catch (JsonException e) { throw new TokenizerFormatException(file, $"not valid JSON: {e.Message}", e); }
    }
}
