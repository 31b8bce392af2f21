using PioFvlm.Core.Text;

namespace PioFvlm.Tests.Text;

public class StreamingDecoderTests
{
    [Test]
    public void EmojiSplitOverByteTokensArrivesWhole()
    {
        // llama-tokenizer-js: "🦙Ꙋ" → 1, 29871, 243 162 169 156 (F0 9F A6 99), 237 156 141 (EA 99 8A).
        var decoder = new StreamingDecoder(TokenizerTestData.Llama2);
        var pieces = new[] { 1, 29871, 243, 162, 169, 156, 237, 156, 141 }.Select(decoder.Push).ToList();
        Assert.That(pieces, Is.EqualTo(new[] { "", "", "", "", "", "🦙", "", "", "Ꙋ" }));
        Assert.That(decoder.Text, Is.EqualTo("🦙Ꙋ"));
    }

    [Test]
    public void StreamedTextEqualsFullDecodeAndNeverShowsReplacementCharacters()
    {
        var t = TokenizerTestData.Llama2;
        var ids = LlamaTokenizerJsCases.EncodeCases[^1].Ids; // the long llama text with emoji and rare characters
        var decoder = new StreamingDecoder(t);
        var pieces = ids.Select(decoder.Push).ToList();
        Assert.That(string.Concat(pieces) + decoder.Flush(), Is.EqualTo(t.Decode(ids)));
        Assert.That(pieces, Has.None.Contains("\uFFFD"));
        Assert.That(pieces[2], Does.StartWith(" "), "spaces between words are kept once text has started");
    }

    [Test]
    public void FlushReturnsAnUnfinishedByteSequence()
    {
        var decoder = new StreamingDecoder(TokenizerTestData.Llama2);
        Assert.That(decoder.Push(15043), Is.EqualTo("Hello")); // spec §7.1: "▁Hello" = 15043
        Assert.That(decoder.Push(243), Is.Empty);
        Assert.That(decoder.Flush(), Is.EqualTo("\uFFFD"));
    }
}
