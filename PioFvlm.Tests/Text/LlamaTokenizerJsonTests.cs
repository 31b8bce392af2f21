using PioFvlm.Core.Text;

namespace PioFvlm.Tests.Text;

public class LlamaTokenizerJsonTests
{
    static IEnumerable<TestCaseData> EncodeCases() => LlamaTokenizerJsCases.EncodeCases.Select(c =>
        new TestCaseData(c.Text, c.Ids).SetArgDisplayNames(c.Text.Length > 24 ? c.Text[..24] + "…" : c.Text));

    static IEnumerable<TestCaseData> DecodeCases() => LlamaTokenizerJsCases.DecodeCases.Select(c =>
        new TestCaseData(c.Ids, c.SkipSpecial, c.Text).SetArgDisplayNames(string.Join(",", c.Ids), c.SkipSpecial.ToString()));

    [TestCaseSource(nameof(EncodeCases))]
    public void EncodeMatchesLlamaTokenizerJs(string text, int[] expected)
    {
        Assert.That(TokenizerTestData.Llama2.Encode(text, addBos: true), Is.EqualTo(expected), LlamaTokenizerJsCases.Source);
    }

    [TestCaseSource(nameof(EncodeCases))]
    public void EncodeWithoutBosDropsOnlyTheFirstId(string text, int[] expected)
    {
        Assert.That(TokenizerTestData.Llama2.Encode(text, addBos: false), Is.EqualTo(expected[1..]));
    }

    [TestCaseSource(nameof(EncodeCases))]
    public void DecodeOfExpectedIdsGivesTheTextBack(string text, int[] expected)
    {
        Assert.That(TokenizerTestData.Llama2.Decode(expected), Is.EqualTo(text));
    }

    [TestCaseSource(nameof(DecodeCases))]
    public void DecodeMatchesLlamaTokenizerJs(int[] ids, bool skipSpecial, string expected)
    {
        Assert.That(TokenizerTestData.Llama2.Decode(ids, skipSpecial), Is.EqualTo(expected), LlamaTokenizerJsCases.Source);
    }

    [Test]
    public void SpecialIdsAndPiecesMatchTheSpec()
    {
        // Spec llava.md §7.1: <unk> 0, <s> 1, </s> 2, bytes 3..258 ("\n" = <0x0A> = 13), "▁" alone = 29871, 32,000 pieces.
        var t = TokenizerTestData.Llama2;
        Assert.Multiple(() =>
        {
            Assert.That(t.BosId, Is.EqualTo(1));
            Assert.That(t.EosId, Is.EqualTo(2));
            Assert.That(t.UnkId, Is.EqualTo(0));
            Assert.That(t.PadId, Is.Null, "tokenizer_config.json has pad_token null");
            Assert.That(t.VocabSize, Is.EqualTo(32000));
            Assert.That(t.TokenToId("<0x00>"), Is.EqualTo(3));
            Assert.That(t.TokenToId("<0xFF>"), Is.EqualTo(258));
            Assert.That(t.TokenToId("<0x0A>"), Is.EqualTo(13));
            Assert.That(t.TokenToId("\u2581"), Is.EqualTo(29871));
            Assert.That(t.IdToToken(29871), Is.EqualTo("\u2581"));
            Assert.That(t.IdToToken(32000), Is.Null);
            Assert.That(t.TokenToId("<image>"), Is.Null);
        });
    }

    [Test]
    public void HelloWorldMatchesTheSpecIds()
    {
        // Spec llava.md §7.1: LLaMA "Hello, world!" → 1, 15043, 29892, 3186, 29991.
        Assert.That(TokenizerTestData.Llama2.Encode("Hello, world!", addBos: true), Is.EqualTo(new[] { 1, 15043, 29892, 3186, 29991 }));
    }

    [Test]
    public void MistralVocabularyMatchesTheSpecIds()
    {
        // Spec llava.md §7.1: Mistral "Hello, world!" → 1, 22557, 28725, 1526, 28808; same specials and byte layout as LLaMA.
        var t = TokenizerTestData.Mistral;
        Assert.That(t.Encode("Hello, world!", addBos: true), Is.EqualTo(new[] { 1, 22557, 28725, 1526, 28808 }));
        Assert.That(t.Encode("\n", addBos: false), Is.EqualTo(new[] { t.TokenToId("\u2581"), 13 }));
        Assert.That(t.Decode(t.Encode("Ꙋ🦙 x\ty", addBos: true)), Is.EqualTo("Ꙋ🦙 x\ty"));
    }

    [Test]
    public void EmptyTextGivesOnlyBosWhenAsked()
    {
        Assert.That(TokenizerTestData.Llama2.Encode("", addBos: true), Is.EqualTo(new[] { 1 }));
        Assert.That(TokenizerTestData.Llama2.Encode("", addBos: false), Is.Empty);
    }

    [Test]
    public void LiteralEosInTextIsMatchedAsTheAddedTokenUnlessDisabled()
    {
        var t = TokenizerTestData.Llama2;
        var matched = t.Encode("hi</s>", addBos: false);
        Assert.That(matched[^1], Is.EqualTo(2));
        Assert.That(matched.Take(matched.Count - 1), Is.EqualTo(t.Encode("hi", addBos: false)));

        var spelled = t.Encode("hi</s>", addBos: false, matchAddedTokens: false);
        Assert.That(spelled, Does.Not.Contain(2));
        Assert.That(t.Decode(spelled), Is.EqualTo("hi</s>"));
    }

    [Test]
    public void LlavaHfAddedTokensAreMatchedAndSkippedOnDecode()
    {
        var t = TokenizerTestData.LlavaHf;
        Assert.Multiple(() =>
        {
            Assert.That(t.TokenToId("<image>"), Is.EqualTo(32000));
            Assert.That(t.TokenToId("<pad>"), Is.EqualTo(32001));
            Assert.That(t.PadId, Is.EqualTo(32001));
            Assert.That(t.VocabSize, Is.EqualTo(32002));
        });

        var ids = t.Encode("USER: <image>\nWhat", addBos: true);
        Assert.That(ids.Count(id => id == 32000), Is.EqualTo(1));
        // HF's llava tests decode "USER: <image>\nWhat…" as "USER:  \nWhat…" (two spaces): llava.md §7.2.
        Assert.That(t.Decode(ids), Is.EqualTo("USER:  \nWhat"));
        Assert.That(t.Decode(ids, skipSpecial: false), Is.EqualTo("<s> USER: <image> \nWhat"));
        Assert.That(t.Decode([.. ids, 32001, 2]), Is.EqualTo("USER:  \nWhat"), "pad and EOS are skipped too");
    }

    [Test]
    public void DecodeRejectsIdsOutsideTheVocabulary()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TokenizerTestData.Llama2.Decode([1, 32000]));
        Assert.That(e!.Message, Does.Contain("32000").And.Contain("tokenizer.json"));
    }
}
