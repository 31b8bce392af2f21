using System.Text.Json.Nodes;

namespace PioFvlm.Models.Text.Qwen2;

/// <summary>
/// A tiny byte-level BPE tokenizer.json in Qwen2's layout, for random tiny Qwen2.5-VL models (tests, CI): the 256
/// byte symbols as ids 0..255 (id = byte value), no merges (so text encodes to its UTF-8 bytes), Qwen2's split regex,
/// NFC, and the chat / vision special tokens from <see cref="EndOfText"/> on, in the real vocabulary's order.
/// </summary>
public static class TinyQwen2TokenizerJson
{
    public const int EndOfText = 256, ImStart = 257, ImEnd = 258, VisionStart = 259, VisionEnd = 260, ImagePad = 261, VideoPad = 262;

    /// <summary>Number of ids the tokenizer uses (the model's vocab_size may be larger, as the real one is).</summary>
    public const int Size = 263;

    static readonly string[] Specials =
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"];

    /// <summary>
    /// GPT-2's byte → printable character table of byte-level BPE: the printable Latin-1 bytes stand for themselves,
    /// the other 68 bytes take the characters from U+0100 on, in byte order.
    /// </summary>
    public static char[] ByteToChar()
    {
        static bool Printable(int b) => b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++) map[b] = Printable(b) ? (char)b : (char)next++;
        return map;
    }

    public static JsonObject Create()
    {
        var vocab = new JsonObject();
        var chars = ByteToChar();
        for (int b = 0; b < 256; b++) vocab[chars[b].ToString()] = b;
        var added = new JsonArray();
        for (int i = 0; i < Specials.Length; i++)
            added.Add(new JsonObject
            {
                ["id"] = EndOfText + i, ["content"] = Specials[i], ["single_word"] = false, ["lstrip"] = false,
                ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
            });
        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = new JsonObject { ["type"] = "NFC" },
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject
                    {
                        ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = Qwen2Tokenizer.SplitPattern },
                        ["behavior"] = "Isolated", ["invert"] = false,
                    },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false }),
            },
            ["post_processor"] = null,
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = "",
                ["end_of_word_suffix"] = "", ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false,
                ["vocab"] = vocab, ["merges"] = new JsonArray(),
            },
        };
    }

    /// <summary>Writes tokenizer.json and a tokenizer_config.json naming EOS and pad.</summary>
    public static void Write(string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), Create().ToJsonString());
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), new JsonObject
        {
            ["tokenizer_class"] = "Qwen2Tokenizer", ["eos_token"] = "<|im_end|>", ["pad_token"] = "<|endoftext|>",
            ["bos_token"] = null, ["model_max_length"] = 1024,
        }.ToJsonString());
    }
}
