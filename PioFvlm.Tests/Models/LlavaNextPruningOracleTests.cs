using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Text;
using PioFvlm.Core.Vision;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;
using PioFvlm.Models.LlavaNext;
using PioFvlm.Tests.Pruning;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>
/// Decoding after an intra-LLM prune of a LLaVA-NeXT prompt (a base-view span, per-row tile spans, image_newline
/// rows outside every span) equals a full prefill of the prompt plus the generated tokens in which the independent
/// <see cref="ForcedSelectionPruner"/> replays the same kept indices at the same layers, newline rule included.
/// </summary>
[NonParallelizable]
public class LlavaNextPruningOracleTests
{
    const int Steps = 4;

    /// <summary>A float64 tiny NeXT in memory with 4 decoder layers (room for stages after layers 1 and 3).</summary>
    static LlavaNextPipeline InMemory(TempDir dir)
    {
        TinyLlava.CopyTokenizer(LlavaTestModels.Llama2TokenizerDir, dir.Path, addLlavaTokens: true);
        var model = TinyLlavaNext.Create(TinyNextText.Vicuna, seed: 5, textLayers: 4, compute: ScalarType.Float64);
        return new LlavaNextPipeline(TinyLlavaNext.Config(TinyNextText.Vicuna, textLayers: 4), model, TokenizerLoader.FromFolder(dir.Path));
    }

    /// <summary>The prompt followed by <paramref name="extra"/> text tokens at the next positions.</summary>
    static MultimodalSequence WithText(IDecoderStack lm, MultimodalSequence prompt, IReadOnlyList<int> extra)
    {
        long length = prompt.Length;
        Assert.That(prompt.PositionIds.max().item<long>(), Is.EqualTo(length - 1), "NeXT prompts are numbered 0..S-1");
        using var scope = NewDisposeScope();
        var embeddings = extra.Count == 0 ? prompt.Embeddings.clone()
            : cat([prompt.Embeddings, lm.Embed(tensor(extra.Select(t => (long)t).ToArray(), ScalarType.Int64).unsqueeze(0))], 1);
        var positions = arange(length + extra.Count, dtype: ScalarType.Int64).unsqueeze(0);
        return new MultimodalSequence(embeddings.MoveToOuterDisposeScope(), positions.MoveToOuterDisposeScope(), prompt.VisualSpans,
                                      prompt.TokenIds.Concat(extra).ToArray());
    }

    [TestCase("Random", PositionPolicy.Compact)]
    [TestCase("Random", PositionPolicy.KeepOriginal)]
    [TestCase("PioFvlm", PositionPolicy.Compact)]
    [TestCase("PioFvlm", PositionPolicy.KeepOriginal)]
    public void DecodeAfterPruningEqualsAFullPrefillWithTheSameSelection(string method, PositionPolicy policy)
    {
        using var dir = new TempDir();
        using var pipeline = InMemory(dir);
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        // 60x40 on the tiny pinpoints: 49 base tokens, then rows of tile spans each followed by its newline.
        var image = new RgbImage(60, 40, Enumerable.Range(0, 60 * 40 * 3).Select(i => (byte)(i * 37 % 251)).ToArray());
        using var inputs = pipeline.Prepare(pipeline.FormatPrompt("Describe it."), [image], Steps);
        using var prompt = pipeline.BuildSequence(inputs).Sequence;
        var layout = pipeline.Processor.Layout(60, 40);
        Assert.That(prompt.VisualSpans.Count(s => s.Origin is { NewlineAfter: true }), Is.EqualTo(layout.UnpaddedHeight), "one newline per map row");
        Assert.That(prompt.VisualSpans.Count(s => s.Origin is { MapRow: >= 0, NewlineAfter: false }), Is.GreaterThan(0), "rows that cross two tiles");

        var plan = PruningConfig.Parse($$"""{ "Method": "{{method}}", "Stages": { "a": { "AfterLayer": 1, "Ratio": 0.5 }, "b": { "AfterLayer": 3, "Ratio": 0.15 } } }""",
                                       "oracle test", pipeline.Profile);
        using var cache = pipeline.NewCache(prompt.Length + Steps);
        using var prefill = pipeline.Prefill(prompt, cache, plan.Intra, policy);
        var logits = new List<Tensor> { prefill.LastLogits.clone() };
        var generated = new List<int>();
        for (int t = 0; t < Steps; t++)
        {
            generated.Add((int)logits[^1].argmax().item<long>());
            logits.Add(DecoderRunner.Step(pipeline.Decoder, generated[^1], prefill.DecodeState, cache));
        }

        Assert.That(prefill.Stages.Select(r => r.Pruned), Is.EqualTo(new[] { true, true }));
        var kept = prefill.Stages.ToDictionary(r => r.AfterLayer, r => r.KeptLocalIndices.ToArray());
        for (int t = 0; t <= Steps; t++)
        {
            var forced = new ForcedSelectionPruner(kept);
            using var longer = WithText(pipeline.Decoder, prompt, generated.Take(t).ToArray());
            using var oracleCache = pipeline.NewCache(longer.Length);
            using var oracle = pipeline.Prefill(longer, oracleCache, forced, policy);
            Assert.That(oracle.TokensPerLayer.Select(n => n - t), Is.EqualTo(prefill.TokensPerLayer), "tokens per layer (newlines included)");
            TensorAssert.Close(logits[t], oracle.LastLogits, 1e-9, 1e-9, t == 0 ? "prefill logits" : $"{method} {policy} decode step {t}");
            if (t == 0)
                Assert.That(forced.NewlinesDropped.Sum(), Is.InRange(1, layout.UnpaddedHeight - 1),
                            "the selection must empty some rows and keep others, so that the newline rule is exercised");
        }
    }

    [Test]
    public void ARowWhoseNewlineSpanWasEmptiedEarlierStillLosesItsNewlineWhenItEmpties()
    {
        // 56x42: every map row is two 7-token spans (left tile, right tile) and its newline after the right one.
        ImageResolution[] pinpoints = [new(28, 56), new(56, 28), new(56, 56)];
        var layout = AnyresLayout.For(56, 42, pinpoints, 28, 4);
        var spans = AnyresFeaturePacker.Spans(layout, 0);
        long length = layout.Tokens;
        long row0 = 49, row1 = 49 + 15;
        var pool = spans.SelectMany(s => Enumerable.Range(0, (int)s.Length).Select(k => s.Start + k)).ToArray();

        // Stage 1: row 0 keeps only its left tile's first token (its right span, the one the newline follows, empties);
        // row 1 keeps everything.
        var kept1 = Enumerable.Range(0, pool.Length).Where(i => pool[i] == row0 || pool[i] < row0 || pool[i] >= row1).Select(i => (long)i).ToArray();
        var keep1 = SequenceCut.KeepMask(length, spans, pool, kept1);
        Assert.That(keep1[row0 + 14], Is.True, "row 0 still has a token: its newline stays");
        var spans1 = SequenceCut.ShrinkSpans(spans, keep1);
        long length1 = keep1.Count(k => k);
        Assert.That(spans1[1].Origin!.Value.MapRow, Is.EqualTo(0));
        Assert.That(spans1[2].Origin!.Value.MapRow, Is.EqualTo(1), "row 0's emptied right span is gone");
        Assert.That((spans1[1].Start, spans1[1].Length, spans1[2].Start), Is.EqualTo((49L, 1L, 51L)), "row 0's token, its newline at 50, row 1");

        // Stage 2: row 0 loses its last token, row 1 keeps one: row 0's newline (position 50) must go, row 1's stays.
        var pool2 = spans1.SelectMany(s => Enumerable.Range(0, (int)s.Length).Select(k => s.Start + k)).ToArray();
        var kept2 = Enumerable.Range(0, pool2.Length).Where(i => pool2[i] < 49 || pool2[i] == 51).Select(i => (long)i).ToArray();
        var keep2 = SequenceCut.KeepMask(length1, spans1, pool2, kept2);
        Assert.That(keep2[50], Is.False, "row 0 is empty now: its newline goes with it");
        Assert.That(keep2[51 + 14], Is.True, "row 1 keeps a token: its newline stays");
        Assert.That(keep2.Count(k => k), Is.EqualTo(length1 - (pool2.Length - kept2.Length) - 1 - (layout.UnpaddedHeight - 2)),
                    "every row but row 1 lost all its tokens and its newline");
    }
}
