using PioFvlm.Core.Generation;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>Generation through <see cref="LlavaPipeline"/> on a tiny in-memory model, against no-cache recomputation.</summary>
public class LlavaGenerationTests
{
    const int Eos = 2;

    [Test]
    public void CachedGreedyEqualsNoCacheRecompute()
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir, seed: 3);
        using var inputs = pipeline.Prepare(pipeline.FormatPrompt("Describe the image."), [LlavaTestModels.Image()], maxNewTokens: 6);
        var options = new GenerationOptions { MaxNewTokens = 6, SuppressTokens = [Eos] };
        var generated = pipeline.Generate(inputs, options);
        Assert.That(generated.TokenIds, Has.Count.EqualTo(6));
        Assert.That(generated.Stats.TokensGenerated, Is.EqualTo(6));
        Assert.That(generated.Stats.VisualTokensIn, Is.EqualTo(LlavaTestModels.ImageTokens));
        Assert.That(generated.Stats.PromptLength, Is.EqualTo(inputs.TokenIds.Count - 1 + LlavaTestModels.ImageTokens));

        // Cached path, step by step, keeping every step's logits.
        using var _ = no_grad();
        var (sequence, _) = pipeline.BuildSequence(inputs);
        using var seq = sequence;
        using var cache = pipeline.NewCache(seq.Length + 6);
        using var prefill = pipeline.Prefill(seq, cache);
        var cachedLogits = new List<Tensor> { prefill.LastLogits.clone() };
        for (int i = 0; i < 5; i++)
            cachedLogits.Add(DecoderRunner.Step(pipeline.Model.LanguageModel, generated.TokenIds[i], prefill.DecodeState, cache));

        // Oracle: the whole sequence (prompt + tokens so far) from scratch every step, no cache.
        var lm = pipeline.Model.LanguageModel;
        for (int step = 0; step < 6; step++)
        {
            using var scope = NewDisposeScope();
            var soFar = generated.TokenIds.Take(step).Select(t => (long)t).ToArray();
            var embeddings = step == 0 ? seq.Embeddings
                : cat([seq.Embeddings, lm.Embed(tensor(soFar, ScalarType.Int64).unsqueeze(0))], 1);
            var positions = arange(embeddings.shape[1], dtype: ScalarType.Int64).unsqueeze(0);
            var hidden = lm.RunLayers(embeddings, positions, null, 0, lm.LayerCount);
            var logits = lm.Logits(hidden, lastPositionOnly: true).reshape(-1);
            TensorAssert.Close(cachedLogits[step], logits, 1e-5, 1e-5, $"step {step} logits, cached vs recomputed");
            var masked = logits.clone();
            masked[Eos] = float.NegativeInfinity;
            Assert.That((int)masked.argmax().item<long>(), Is.EqualTo(generated.TokenIds[step]), $"step {step} greedy token");
        }
        foreach (var t in cachedLogits) t.Dispose();
    }

    [Test]
    public void EosStopsGeneration()
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir, seed: 4);
        using var inputs = pipeline.Prepare(pipeline.FormatPrompt("Hi"), [LlavaTestModels.Image()], maxNewTokens: 8);
        var allButEos = Enumerable.Range(0, TinyLlava.HfVocab).Where(id => id != Eos).ToArray();

        var stopped = pipeline.Generate(inputs, new GenerationOptions { MaxNewTokens = 8, SuppressTokens = allButEos });
        Assert.That(stopped.TokenIds, Is.EqualTo(new[] { Eos }), "EOS is emitted, then generation ends");
        Assert.That(stopped.Text, Is.Empty, "EOS is a special token, not text");

        var running = pipeline.Generate(inputs, new GenerationOptions { MaxNewTokens = 8, SuppressTokens = allButEos, StopAtEos = false });
        Assert.That(running.TokenIds, Is.EqualTo(Enumerable.Repeat(Eos, 8)), "with StopAtEos off the limit ends it");
    }

    [Test]
    public void TwoPlaceholdersWithOneImageIsAnError()
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir);
        var e = Assert.Throws<ArgumentException>(() => pipeline.Prepare("USER: <image>\n<image>\nCompare. ASSISTANT:", [LlavaTestModels.Image()]))!;
        Assert.That(e.Message, Does.Contain("2 <image>").And.Contain("1 image"));
    }

    [Test]
    public void PromptLongerThanMaxPositionsIsAnError()
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir);
        string question = string.Join(' ', Enumerable.Repeat("elephant", 600));   // "▁ele" "phant": ~1200 tokens
        var e = Assert.Throws<ArgumentException>(() => pipeline.Prepare(pipeline.FormatPrompt(question), [LlavaTestModels.Image()]))!;
        Assert.That(e.Message, Does.Contain("max_position_embeddings (1024)"));

        // Just under the limit with the image, but over it with the tokens to generate.
        int fits = 1024 - (pipeline.Prompts.Encode(pipeline.FormatPrompt("")).InputIds.Count - 1 + LlavaTestModels.ImageTokens) - 1;
        string shorter = string.Join(' ', Enumerable.Repeat("a", fits - 1));
        using (var ok = pipeline.Prepare(pipeline.FormatPrompt(shorter), [LlavaTestModels.Image()])) { }
        Assert.Throws<ArgumentException>(() => pipeline.Prepare(pipeline.FormatPrompt(shorter), [LlavaTestModels.Image()], maxNewTokens: 20));
    }

    [Test]
    public void ImageFeaturesLandAtTheImagePositions()
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir, seed: 6);
        using var inputs = pipeline.Prepare(pipeline.FormatPrompt("Where?"), [LlavaTestModels.Image()]);
        var ids = inputs.TokenIds;
        // "USER: <image>\n..." → [<s>, ▁US, ER, :, ▁] then the image (spec llava.md §4.5): the span starts at 5.
        Assert.That(ids.Take(6), Is.EqualTo(new[] { 1, 3148, 1001, 29901, 29871, TinyLlava.ImageTokenId }));

        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var model = pipeline.Model;
        var features = model.Projector.forward(model.VisionTower.forward(inputs.PixelValues!))[0];   // [49, hidden]
        var (sequence, _) = pipeline.BuildSequence(inputs);
        using var seq = sequence;
        Assert.That(seq.VisualSpans, Has.Count.EqualTo(1));
        Assert.That(seq.VisualSpans[0].Start, Is.EqualTo(5));
        Assert.That(seq.VisualSpans[0].Length, Is.EqualTo(LlavaTestModels.ImageTokens));
        Assert.That(seq.Length, Is.EqualTo(ids.Count - 1 + LlavaTestModels.ImageTokens));

        var emb = seq.Embeddings[0];
        TensorAssert.Equal(emb.narrow(0, 5, LlavaTestModels.ImageTokens), features, "visual positions = projector rows");
        var table = model.LanguageModel.Model.EmbedTokens.weight!;
        var before = ids.Take(5).Select(i => (long)i).ToArray();
        var after = ids.Skip(6).Select(i => (long)i).ToArray();
        TensorAssert.Equal(emb.narrow(0, 0, 5), table.index_select(0, tensor(before)), "text before the image = embedding rows");
        TensorAssert.Equal(emb.narrow(0, 5 + LlavaTestModels.ImageTokens, after.Length), table.index_select(0, tensor(after)),
            "text after the image = embedding rows");
        Assert.That(seq.TokenIds.Skip(5).Take(LlavaTestModels.ImageTokens), Is.All.EqualTo(TinyLlava.ImageTokenId));
        TensorAssert.Equal(seq.PositionIds[0], arange(seq.Length, dtype: ScalarType.Int64), "positions 0..S-1");
    }
}

[NonParallelizable]
public class LlavaGenerationMemoryTests
{
    [Test]
    public void RepeatedGenerateDoesNotLeakTensors()
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir, seed: 8);
        using var inputs = pipeline.Prepare(pipeline.FormatPrompt("Hi"), [LlavaTestModels.Image()], maxNewTokens: 4);
        NativeMemory.AssertNoGrowth(() => pipeline.Generate(inputs, new GenerationOptions { MaxNewTokens = 4, SuppressTokens = [2] }),
            3, "LlavaPipeline.Generate");
        var image = LlavaTestModels.Image(30, 20, salt: 1);
        NativeMemory.AssertNoGrowth(() => pipeline.Generate(image, "What?", new GenerationOptions { MaxNewTokens = 3 }),
            3, "LlavaPipeline.Generate(image, question)");
    }
}
