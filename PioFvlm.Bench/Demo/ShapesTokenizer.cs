using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PioFvlm.Bench.Demo;

/// <summary>
/// Writes a small LLaMA-style tokenizer (tokenizer.json + tokenizer_config.json) for the shapes demo model: the same
/// file format, normalizer, byte fallback and decoder as the LLaMA-2 tokenizer, so it loads through the same code
/// path as a real checkpoint's, but with a vocabulary of a few hundred pieces: the 3 specials, the 256 byte pieces,
/// single characters, and every benchmark word as one "▁word" piece (built by a left-to-right merge chain, so BPE
/// always reaches it). Other text still encodes, character by character or through bytes.
/// </summary>
public static class ShapesTokenizer
{
    const string Space = "\u2581";

    /// <summary>Words that get one piece each: the chat template's, the benchmark's questions and answers.</summary>
    public static IReadOnlyList<string> Words { get; } =
    [
        "USER", "ASSISTANT", "Is", "is", "there", "a", "in", "the", "image", "What", "color", "How", "many", "are",
        "on", "left", "or", "right", "side", "of", "yes", "no", "Yes", "No",
        "red", "green", "blue", "yellow", "circle", "square", "triangle", "circles", "squares", "triangles",
        "Answer", "question", "using", "single", "word", "phrase",
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
    ];

    const string Characters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:;?!'\"-()/";

    /// <summary>Writes the two files into <paramref name="directory"/>; returns the ids of &lt;image&gt; and &lt;pad&gt;.</summary>
    public static (int ImageId, int PadId, int VocabSize) Write(string directory)
    {
        Directory.CreateDirectory(directory);
        var vocab = new List<string> { "<unk>", "<s>", "</s>" };
        for (int b = 0; b < 256; b++) vocab.Add($"<0x{b:X2}>");
        vocab.Add(Space);
        foreach (char c in Characters) vocab.Add(c.ToString());
        var merges = new List<string>();
        var known = new HashSet<string>(vocab, StringComparer.Ordinal);
        foreach (var word in Words)
        {
            string piece = Space;
            foreach (char c in word)
            {
                string next = piece + c;
                if (known.Add(next))
                {
                    vocab.Add(next);
                    merges.Add($"{piece} {c}");
                }
                piece = next;
            }
        }
        int imageId = vocab.Count, padId = vocab.Count + 1;

        var vocabJson = new JsonObject();
        for (int i = 0; i < vocab.Count; i++) vocabJson[vocab[i]] = i;
        var tokenizer = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(
                Added(0, "<unk>"), Added(1, "<s>"), Added(2, "</s>"), Added(imageId, "<image>"), Added(padId, "<pad>")),
            ["normalizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["normalizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Prepend", ["prepend"] = Space },
                    new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = Space }),
            },
            ["pre_tokenizer"] = null,
            ["post_processor"] = null,
            ["decoder"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["decoders"] = new JsonArray(
                    new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = Space }, ["content"] = " " },
                    new JsonObject { ["type"] = "ByteFallback" },
                    new JsonObject { ["type"] = "Fuse" },
                    new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = 1, ["stop"] = 0 }),
            },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = "<unk>", ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = true, ["byte_fallback"] = true,
                ["vocab"] = vocabJson,
                ["merges"] = new JsonArray(merges.Select(m => (JsonNode)m).ToArray()),
            },
        };
        var config = new JsonObject
        {
            ["add_bos_token"] = true,
            ["add_eos_token"] = false,
            ["added_tokens_decoder"] = new JsonObject
            {
                [imageId.ToString(System.Globalization.CultureInfo.InvariantCulture)] = Added(imageId, "<image>"),
                [padId.ToString(System.Globalization.CultureInfo.InvariantCulture)] = Added(padId, "<pad>"),
            },
            ["bos_token"] = "<s>", ["eos_token"] = "</s>", ["unk_token"] = "<unk>", ["pad_token"] = "<pad>",
            ["clean_up_tokenization_spaces"] = false, ["legacy"] = true, ["tokenizer_class"] = "LlamaTokenizer",
        };
        var json = new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), tokenizer.ToJsonString(json));
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), config.ToJsonString(json));
        return (imageId, padId, padId + 1);
    }

    static JsonObject Added(int id, string content) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
        ["normalized"] = false, ["special"] = true,
    };
}
