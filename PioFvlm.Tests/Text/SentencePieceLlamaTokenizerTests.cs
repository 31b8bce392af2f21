using PioFvlm.Core.Text;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Text;

/// <summary>
/// Microsoft.ML.Tokenizers on a tokenizer.model written from the LLaMA-2 vocabulary (see <see cref="SentencePieceModelWriter"/>),
/// checked against the llama-tokenizer-js expected ids and the same prompt ids as <see cref="LlavaPromptTests"/>.
/// </summary>
public class SentencePieceLlamaTokenizerTests
{
    static readonly Lazy<byte[]> ModelBytes = new(() => SentencePieceModelWriter.FromTokenizerJson(Path.Combine(TokenizerTestData.Llama2Folder, "tokenizer.json"), TokenizerTestData.Llama2, 32000));

    static SentencePieceLlamaTokenizer Create(IEnumerable<AddedToken>? added = null) =>
        SentencePieceLlamaTokenizer.Create(new MemoryStream(ModelBytes.Value), added);

    static readonly Lazy<SentencePieceLlamaTokenizer> Plain = new(() => Create());
    static readonly Lazy<SentencePieceLlamaTokenizer> LlavaHf = new(() => Create([new AddedToken(32000, "<image>", true), new AddedToken(32001, "<pad>", true)]));

    static IEnumerable<TestCaseData> EncodeCases() => LlamaTokenizerJsCases.EncodeCases.Select(c =>
        new TestCaseData(c.Text, c.Ids).SetArgDisplayNames(c.Text.Length > 24 ? c.Text[..24] + "…" : c.Text));

    [TestCaseSource(nameof(EncodeCases))]
    public void EncodeMatchesLlamaTokenizerJs(string text, int[] expected)
    {
        Assert.That(Plain.Value.Encode(text, addBos: true), Is.EqualTo(expected), LlamaTokenizerJsCases.Source);
        Assert.That(Plain.Value.Decode(expected), Is.EqualTo(text));
    }

    [Test]
    public void SpecialIdsAndAddedTokens()
    {
        var t = LlavaHf.Value;
        Assert.Multiple(() =>
        {
            Assert.That((t.BosId, t.EosId, t.UnkId), Is.EqualTo((1, 2, 0)));
            Assert.That(t.PadId, Is.EqualTo(32001));
            Assert.That(t.VocabSize, Is.EqualTo(32002));
            Assert.That(t.TokenToId("\u2581"), Is.EqualTo(29871));
            Assert.That(t.TokenToId("<0x0A>"), Is.EqualTo(13));
            Assert.That(Plain.Value.PadId, Is.Null);
            Assert.That(t.Encode("", addBos: true), Is.EqualTo(new[] { 1 }), "BOS even for empty text (spec §8 pitfall 2)");
        });
    }

    [Test]
    public void LlavaPromptIdsEqualTheJsonTokenizers()
    {
        string prompt = LlavaPromptFormat.VicunaV1([new LlavaTurn("What is this?", "A cat."), new LlavaTurn("Why?")]);
        var fromModel = LlavaPromptEncoder.ForHf(LlavaHf.Value).Encode(prompt);
        var fromJson = LlavaPromptEncoder.ForHf(TokenizerTestData.LlavaHf).Encode(prompt);
        Assert.That(fromModel.InputIds, Is.EqualTo(fromJson.InputIds));
        // Text after an added token gets its own "▁" (spec §8 pitfall 1): "<image>\n" → 32000, 29871, 13.
        var direct = LlavaHf.Value.Encode("USER: <image>\nWhat", addBos: true);
        Assert.That(direct.Skip(5).Take(3), Is.EqualTo(new[] { 32000, 29871, 13 }));
        Assert.That(LlavaHf.Value.Decode(direct), Is.EqualTo("USER:  \nWhat"));
    }

    [Test]
    public void LoaderFallsBackToTokenizerModelAndReadsAddedTokensJson()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("tokenizer.model"), ModelBytes.Value);
        File.WriteAllText(dir.File("added_tokens.json"), """{ "<image>": 32000, "<pad>": 32001 }""");
        var t = TokenizerLoader.FromFolder(dir.Path);
        Assert.That(t, Is.InstanceOf<SentencePieceLlamaTokenizer>());
        Assert.That(t.TokenToId("<image>"), Is.EqualTo(32000));
        Assert.That(t.PadId, Is.EqualTo(32001));
    }

    [Test]
    public void GarbageModelFileIsReportedWithItsName()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("tokenizer.model"), [0xFF, 0xFF, 0xFF, 0x01, 0x02]);
        var e = Assert.Throws<TokenizerFormatException>(() => SentencePieceLlamaTokenizer.FromFile(dir.File("tokenizer.model")));
        Assert.That(e!.Message, Does.Contain("tokenizer.model"));
    }
}
