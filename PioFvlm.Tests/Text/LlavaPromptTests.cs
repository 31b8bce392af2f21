using PioFvlm.Models.Llava;

namespace PioFvlm.Tests.Text;

/// <summary>
/// Prompt strings against the spec's templates (llava.md §7.3–7.4) and prompt ids against per-chunk ids computed with
/// an independent tokenizer: npm llama-tokenizer-js 1.2.2, <c>encode(chunk, add_bos_token = false, add_preceding_space = true)</c>
/// on each text chunk between placeholders, run once by hand with node and written down here.
/// </summary>
public class LlavaPromptTests
{
    const string System = "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions.";

    // llama-tokenizer-js ids of System + " USER: " (ends with 29871 "▁" because of the trailing space, spec §7.2).
    static readonly int[] SystemUserIds =
    [
        319, 13563, 1546, 263, 12758, 1404, 322, 385, 23116, 21082, 20255, 29889, 450, 20255, 4076, 8444, 29892, 13173,
        29892, 322, 1248, 568, 6089, 304, 278, 1404, 29915, 29879, 5155, 29889, 3148, 1001, 29901, 29871,
    ];

    static readonly int[] UserIds = [3148, 1001, 29901, 29871];                                                          // "USER: "
    static readonly int[] WhatIsShownIds = [29871, 13, 5618, 338, 4318, 297, 445, 1967, 29973, 319, 1799, 9047, 13566, 29901]; // "\nWhat is shown in this image? ASSISTANT:"
    static readonly int[] WhatIsThisIds = [29871, 13, 5618, 338, 445, 29973, 319, 1799, 9047, 13566, 29901];           // "\nWhat is this? ASSISTANT:"
    static readonly int[] NewlineIds = [29871, 13];                                                                       // "\n"
    static readonly int[] CompareIds = [29871, 13, 6843, 598, 278, 1023, 14956, 29889, 319, 1799, 9047, 13566, 29901];  // "\nCompare the two pictures. ASSISTANT:"
    static readonly int[] DescribeIds = [29871, 13, 4002, 29581, 29889];                                                 // "\nDescribe."
    static readonly int[] AnswerCatIds = [29871, 13, 5618, 338, 445, 29973, 319, 1799, 9047, 13566, 29901, 319, 6635, 29889]; // "\nWhat is this? ASSISTANT: A cat."
    static readonly int[] UserWhyIds = [3148, 1001, 29901, 3750, 29973, 319, 1799, 9047, 13566, 29901];                  // "USER: Why? ASSISTANT:"

    const int Bos = 1, Eos = 2, HfImage = 32000;

    static int[] Concat(params object[] parts) => parts.SelectMany(p => p is int i ? [i] : (int[])p).ToArray();

    [Test]
    public void VicunaV1StringIsTheSpecTemplate()
    {
        Assert.That(LlavaPromptFormat.VicunaV1System, Is.EqualTo(System));
        Assert.That(LlavaPromptFormat.VicunaV1("What is shown in this image?"),
            Is.EqualTo(System + " USER: <image>\nWhat is shown in this image? ASSISTANT:"));
        Assert.That(LlavaPromptFormat.VicunaV1("Q", imageCount: 2), Is.EqualTo(System + " USER: <image>\n<image>\nQ ASSISTANT:"));
        Assert.That(LlavaPromptFormat.VicunaV1("Q", imageCount: 0), Is.EqualTo(System + " USER: Q ASSISTANT:"));
    }

    [Test]
    public void VicunaV1MultiTurnEndsCompletedTurnsWithEos()
    {
        Assert.That(LlavaPromptFormat.VicunaV1([new LlavaTurn("What is this?", "A cat."), new LlavaTurn("Why?")]),
            Is.EqualTo(System + " USER: <image>\nWhat is this? ASSISTANT: A cat.</s>USER: Why? ASSISTANT:"));
    }

    [Test]
    public void HfChatTemplateMatchesTheSpec()
    {
        Assert.That(LlavaPromptFormat.HfLlava15Chat("What is this?"), Is.EqualTo("USER: <image>\nWhat is this? ASSISTANT:"));
        // With the vicuna system text as a system message the HF string equals the research prompt (spec §7.4).
        Assert.That(LlavaPromptFormat.HfLlava15Chat([new LlavaChatMessage("system", System), new LlavaChatMessage("user", "Q", 1)]),
            Is.EqualTo(LlavaPromptFormat.VicunaV1("Q")));
        Assert.That(LlavaPromptFormat.HfLlava15Chat([new LlavaChatMessage("user", "Q", 1), new LlavaChatMessage("assistant", "A")], addGenerationPrompt: false),
            Is.EqualTo("USER: <image>\nQ ASSISTANT: A "));
        Assert.That(LlavaPromptFormat.MistralInstruct("Q"), Is.EqualTo("[INST] <image>\nQ [/INST]"));
    }

    [Test]
    public void VicunaV1PromptIdsAreBosThenChunksAroundOneImageId()
    {
        var enc = LlavaPromptEncoder.ForHf(TokenizerTestData.LlavaHf).Encode(LlavaPromptFormat.VicunaV1("What is shown in this image?"));
        Assert.That(enc.InputIds, Is.EqualTo(Concat(Bos, SystemUserIds, HfImage, WhatIsShownIds)));
        Assert.That(enc.ImagePositions, Is.EqualTo(new[] { 1 + SystemUserIds.Length }));
        Assert.That(enc.InputIds.Count(id => id == Bos), Is.EqualTo(1), "BOS once");
    }

    [Test]
    public void ResearchEncodingPutsMinus200WhereHfPuts32000()
    {
        string prompt = LlavaPromptFormat.VicunaV1("What is shown in this image?");
        var hf = LlavaPromptEncoder.ForHf(TokenizerTestData.LlavaHf).Encode(prompt);
        var research = LlavaPromptEncoder.ForResearch(TokenizerTestData.Llama2).Encode(prompt);
        Assert.That(research.InputIds, Is.EqualTo(Concat(Bos, SystemUserIds, -200, WhatIsShownIds)));
        Assert.That(research.ImagePositions, Is.EqualTo(hf.ImagePositions));
    }

    [Test]
    public void HfChatPromptIds()
    {
        var enc = LlavaPromptEncoder.ForHf(TokenizerTestData.LlavaHf).Encode(LlavaPromptFormat.HfLlava15Chat("What is this?"));
        Assert.That(enc.InputIds, Is.EqualTo(Concat(Bos, UserIds, HfImage, WhatIsThisIds)));
        Assert.That(enc.ImagePositions, Is.EqualTo(new[] { 5 }));
    }

    [Test]
    public void ATokenizerWithoutBosGetsNoBos()
    {
        // Qwen-style tokenizers have no BOS: the same chunks, nothing in front, the image one position earlier.
        var enc = LlavaPromptEncoder.ForHf(new NoBos(TokenizerTestData.LlavaHf)).Encode(LlavaPromptFormat.HfLlava15Chat("What is this?"));
        Assert.That(enc.InputIds, Is.EqualTo(Concat(UserIds, HfImage, WhatIsThisIds)));
        Assert.That(enc.ImagePositions, Is.EqualTo(new[] { 4 }));
    }

    /// <summary>A tokenizer as given, except that it has no BOS id.</summary>
    sealed class NoBos(PioFvlm.Core.Text.ITokenizer inner) : PioFvlm.Core.Text.ITokenizer
    {
        public IReadOnlyList<int> Encode(string text, bool addBos) => inner.Encode(text, addBos: false);
        public string Decode(IEnumerable<int> ids, bool skipSpecial = true) => inner.Decode(ids, skipSpecial);
        public int? BosId => null;
        public int EosId => inner.EosId;
        public int? PadId => inner.PadId;
        public int VocabSize => inner.VocabSize;
        public int? TokenToId(string token) => inner.TokenToId(token);
        public string? IdToToken(int id) => inner.IdToToken(id);
    }

    [Test]
    public void TwoImagesGiveTwoIdsAndPositions()
    {
        var enc = LlavaPromptEncoder.ForHf(TokenizerTestData.LlavaHf).Encode("USER: <image>\n<image>\nCompare the two pictures. ASSISTANT:");
        Assert.That(enc.InputIds, Is.EqualTo(Concat(Bos, UserIds, HfImage, NewlineIds, HfImage, CompareIds)));
        Assert.That(enc.ImagePositions, Is.EqualTo(new[] { 5, 8 }));
        Assert.That(enc.ImageCount, Is.EqualTo(2));
    }

    [Test]
    public void AdjacentAndLeadingImagesStillGetBosOnce()
    {
        var encoder = LlavaPromptEncoder.ForHf(TokenizerTestData.LlavaHf);
        Assert.That(encoder.Encode("<image>\nDescribe.").InputIds, Is.EqualTo(Concat(Bos, HfImage, DescribeIds)));
        Assert.That(encoder.Encode("<image><image>").InputIds, Is.EqualTo(new[] { Bos, HfImage, HfImage }));
        Assert.That(encoder.Encode("<image><image>").ImagePositions, Is.EqualTo(new[] { 1, 2 }));
        Assert.That(encoder.Encode("").InputIds, Is.EqualTo(new[] { Bos }));
    }

    [Test]
    public void MultiTurnSeparatorBecomesEos()
    {
        var enc = LlavaPromptEncoder.ForResearch(TokenizerTestData.Llama2)
            .Encode(LlavaPromptFormat.VicunaV1([new LlavaTurn("What is this?", "A cat."), new LlavaTurn("Why?")]));
        Assert.That(enc.InputIds, Is.EqualTo(Concat(Bos, SystemUserIds, -200, AnswerCatIds, Eos, UserWhyIds)));
    }

    [Test]
    public void DecodeSkipsImageAndControlIds()
    {
        var t = TokenizerTestData.LlavaHf;
        var enc = LlavaPromptEncoder.ForHf(t).Encode(LlavaPromptFormat.HfLlava15Chat("What is this?"));
        // HF tests decode "USER: <image>\nWhat…" as "USER:  \nWhat…" (two spaces), spec §7.2.
        Assert.That(t.Decode(enc.InputIds), Is.EqualTo("USER:  \nWhat is this? ASSISTANT:"));
    }

    [Test]
    public void ForHfRequiresAnImageToken()
    {
        var e = Assert.Throws<ArgumentException>(() => LlavaPromptEncoder.ForHf(TokenizerTestData.Llama2));
        Assert.That(e!.Message, Does.Contain("<image>"));
    }
}
