using PioFvlm.Core.Text;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Text;

/// <summary>
/// Hand-written five-merge tokenizer.json files, so every expected id below is derived by hand from the merge
/// ranks: "▁ h" 0, "e l" 1, "l o" 2, "▁h el" 3 → "▁hello" = ▁h·el·lo → "▁hel" "lo" = [12, 11].
/// The same model is wrapped once with the older normalizer spelling and once with the newer Metaspace one.
/// </summary>
public class TinyTokenizerJsonTests
{
    const string Model = """
        "model": { "type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null, "end_of_word_suffix": null,
          "fuse_unk": true, "byte_fallback": true,
          "vocab": { "<unk>": 0, "<s>": 1, "</s>": 2, "<0x0A>": 3, "▁": 4, "h": 5, "e": 6, "l": 7, "o": 8, "▁h": 9, "el": 10, "lo": 11, "▁hel": 12 },
          "merges": [ "▁ h", "e l", "l o", "▁h el" ] }
        """;
    const string Added = """
        "added_tokens": [
          { "id": 0, "content": "<unk>", "special": true }, { "id": 1, "content": "<s>", "special": true },
          { "id": 2, "content": "</s>", "special": true }, { "id": 13, "content": "<x>", "special": true } ]
        """;

    static LlamaTokenizerJson Legacy() => LlamaTokenizerJson.FromJson($$"""
        { {{Added}}, {{Model}},
          "normalizer": { "type": "Sequence", "normalizers": [ { "type": "Prepend", "prepend": "▁" }, { "type": "Replace", "pattern": { "String": " " }, "content": "▁" } ] },
          "pre_tokenizer": null,
          "decoder": { "type": "Sequence", "decoders": [ { "type": "Replace", "pattern": { "String": "▁" }, "content": " " }, { "type": "ByteFallback" }, { "type": "Fuse" }, { "type": "Strip", "content": " ", "start": 1, "stop": 0 } ] } }
        """, "legacy.json");

    static LlamaTokenizerJson Metaspace(string scheme, bool split = false) => LlamaTokenizerJson.FromJson($$"""
        { {{Added}}, {{Model.Replace("[ \"▁ h\"", "[ [\"▁\", \"h\"]")}},
          "normalizer": null,
          "pre_tokenizer": { "type": "Metaspace", "replacement": "▁", "prepend_scheme": "{{scheme}}", "split": {{(split ? "true" : "false")}} },
          "decoder": { "type": "Metaspace", "replacement": "▁", "prepend_scheme": "{{scheme}}", "split": {{(split ? "true" : "false")}} } }
        """, "metaspace.json");

    [Test]
    public void MergesFollowRankNotPosition()
    {
        Assert.That(Legacy().Encode("hello", addBos: true), Is.EqualTo(new[] { 1, 12, 11 }));
        // Without the dummy prefix: h·e·l·l·o → h·el·l·o → h·el·lo; "h el" has no merge.
        Assert.That(Metaspace("never").Encode("hello", addBos: false), Is.EqualTo(new[] { 5, 10, 11 }));
    }

    [Test]
    public void EqualRanksMergeLeftmostFirst()
    {
        // "elel": (e,l) rank 1 at 0 and at 2 → el·el.
        Assert.That(Metaspace("never").Encode("elel", addBos: false), Is.EqualTo(new[] { 10, 10 }));
        // "ello": (e,l) rank 1 at 0 beats (l,o) rank 2 at 2 → el·lo.
        Assert.That(Metaspace("never").Encode("ello", addBos: false), Is.EqualTo(new[] { 10, 11 }));
    }

    [Test]
    public void LegacyNormalizerPrefixesEveryPieceBetweenAddedTokens()
    {
        Assert.That(Legacy().Encode("hello<x>hello", addBos: false), Is.EqualTo(new[] { 12, 11, 13, 12, 11 }));
        Assert.That(Legacy().Encode(" hello", addBos: false), Is.EqualTo(new[] { 4, 12, 11 }), "space + dummy prefix = two ▁");
    }

    [Test]
    public void MetaspaceFirstPrefixesOnlyTheStartOfTheInput()
    {
        var t = Metaspace("first");
        Assert.That(t.Encode("hello<x>hello", addBos: false), Is.EqualTo(new[] { 12, 11, 13, 5, 10, 11 }));
        Assert.That(t.Encode(" hello", addBos: false), Is.EqualTo(new[] { 12, 11 }), "no prefix when the text already starts with ▁");
        Assert.That(Metaspace("always").Encode("hello<x>hello", addBos: false), Is.EqualTo(new[] { 12, 11, 13, 12, 11 }));
    }

    [Test]
    public void MetaspaceSplitCutsBeforeEachReplacement()
    {
        // "hello hello" → words "▁hello" "▁hello", each [12, 11].
        Assert.That(Metaspace("always", split: true).Encode("hello hello", addBos: false), Is.EqualTo(new[] { 12, 11, 12, 11 }));
    }

    [Test]
    public void ByteFallbackAndFusedUnknown()
    {
        var t = Legacy();
        Assert.That(t.Encode("\n", addBos: false), Is.EqualTo(new[] { 4, 3 }));
        // "é" is neither a piece nor spelled by available byte pieces (no <0xC3>): unk, and consecutive unks fuse.
        Assert.That(t.Encode("éé", addBos: false), Is.EqualTo(new[] { 4, 0 }));
    }

    [Test]
    public void DecodersOfBothSpellingsDropOneLeadingSpace()
    {
        Assert.That(Legacy().Decode([4, 12, 11]), Is.EqualTo(" hello"));
        Assert.That(Metaspace("first").Decode([12, 11, 13, 5, 10, 11]), Is.EqualTo("hellohello"));
        Assert.That(Metaspace("first").Decode([12, 11, 13, 5, 10, 11], skipSpecial: false), Is.EqualTo("hello<x>hello"));
        Assert.That(Metaspace("never").Decode([12, 11]), Is.EqualTo(" hello"));
    }

    [Test]
    public void UnsupportedPartsAreRefusedNamingFileAndKey()
    {
        var e = Assert.Throws<TokenizerFormatException>(() => LlamaTokenizerJson.FromJson($$"""
            { {{Added}}, {{Model}}, "normalizer": { "type": "NFKC" }, "pre_tokenizer": null, "decoder": null }
            """, "odd.json"));
        Assert.That(e!.Message, Does.Contain("odd.json").And.Contain("NFKC"));

        var m = Assert.Throws<TokenizerFormatException>(() => LlamaTokenizerJson.FromJson($$"""
            { {{Added}}, {{Model.Replace("\"▁h el\"", "\"▁h zz\"")}}, "normalizer": null }
            """, "bad-merge.json"));
        Assert.That(m!.Message, Does.Contain("bad-merge.json").And.Contain("merges[3]"));
    }

    [Test]
    public void LoaderNamesTheFolderWhenNoTokenizerIsThere()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => TokenizerLoader.FromFolder(dir.Path));
        Assert.That(e!.Message, Does.Contain(dir.Path).And.Contain("tokenizer.json").And.Contain("tokenizer.model"));
    }

    [Test]
    public void LoaderPrefersTokenizerJson()
    {
        var t = TokenizerLoader.FromFolder(TokenizerTestData.Llama2Folder);
        Assert.That(t, Is.InstanceOf<LlamaTokenizerJson>());
        Assert.That(t.Encode("grabbed", addBos: true), Is.EqualTo(LlamaTokenizerJsCases.EncodeCases[0].Ids));
    }
}
