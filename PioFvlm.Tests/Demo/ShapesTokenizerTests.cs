using PioFvlm.Bench.Demo;
using PioFvlm.Core.Text;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Demo;

/// <summary>The demo tokenizer loads through the real-model code path and gives one piece per benchmark word.</summary>
public class ShapesTokenizerTests
{
    [Test]
    public void EveryBenchmarkWordIsOnePieceAndTextRoundTrips()
    {
        using var dir = new TempDir();
        var (imageId, padId, vocab) = ShapesTokenizer.Write(dir.Path);
        var tokenizer = TokenizerLoader.FromFolder(dir.Path);
        Assert.That(tokenizer.VocabSize, Is.EqualTo(vocab));
        Assert.That((tokenizer.BosId, tokenizer.EosId, tokenizer.PadId), Is.EqualTo((1, 2, (int?)padId)));
        foreach (var word in ShapesTokenizer.Words)
            Assert.That(tokenizer.Encode(word, addBos: false), Has.Count.EqualTo(1), word);

        // "Is" after a newline has no ▁ and falls apart into characters; the rest are whole words.
        string text = "USER: <image>\nIs there a red circle in the image? ASSISTANT:";
        var ids = tokenizer.Encode(text, addBos: true);
        Assert.That(ids[0], Is.EqualTo(1));
        Assert.That(ids.Count(i => i == imageId), Is.EqualTo(1));
        // Legacy LLaMA behaviour (as llava-hf's tokenizer): the text after an added token gets its own "▁" prefix,
        // which decodes as one extra space after <image>.
        Assert.That(tokenizer.Decode(ids.Skip(1).ToList(), skipSpecial: false), Is.EqualTo(text.Replace("<image>\n", "<image> \n")));
        Assert.That(tokenizer.Encode("zebra 42!", addBos: false), Is.Not.Empty);    // off-vocabulary text still encodes
        Assert.That(tokenizer.Decode(tokenizer.Encode("zebra 42!", addBos: false)), Is.EqualTo("zebra 42!"));
    }
}
