using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Efficiency;
using PioFvlm.Tests.Models;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary><see cref="EfficiencyReport.From(PrefillResult, DecoderDims, KvCache?, GenerationStats?, ScalarType?)"/> on a
/// real prefill of a tiny LLaMA pruned by a test pruner, against the theoretical schedule and the cache itself.</summary>
public sealed class EfficiencyReportPrefillTests
{
    /// <summary>After layer 1, keeps the visual tokens at even offsets of the (single) visual span.</summary>
    sealed class DropOddVisualTokens : IPrefillPruner
    {
        public int Calls { get; private set; }

        public bool PrunesAfter(int layersDone) => layersDone == 1;

        public PrefillState Prune(PrefillState state, IDecoderStack decoder)
        {
            Calls++;
            var span = state.VisualSpans.Single();
            var keep = Enumerable.Range(0, (int)state.Length)
                .Where(i => i < span.Start || i >= span.End || (i - span.Start) % 2 == 0).Select(i => (long)i).ToArray();
            var idx = tensor(keep, ScalarType.Int64);
            long keptVisual = (span.Length + 1) / 2;
            return state with
            {
                Hidden = state.Hidden.index_select(1, idx),
                PositionIds = state.PositionIds.index_select(1, idx),
                VisualSpans = [new VisualSpan(span.Start, keptVisual, span.ImageIndex)],
                TokenIds = keep.Select(i => state.TokenIds[(int)i]).ToArray(),
            };
        }
    }

    [Test]
    public void From_PrunedTinyPrefill_MatchesScheduleAndCache()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        var dims = TinyLlama.Gqa with { NumLayers = 3 };
        using var lm = TinyLlama.Create(dims);
        const int Text = 5, Visual = 8, ImageToken = 3;
        // Layout: 3 text, 8 visual, 2 text (13 positions).
        var tokenIds = new List<int> { 1, 7, 9 };
        tokenIds.AddRange(Enumerable.Repeat(ImageToken, Visual));
        tokenIds.AddRange([11, 12]);
        manual_seed(5);
        var embeds = lm.Embed(tensor(tokenIds.Select(t => (long)t).ToArray(), ScalarType.Int64).unsqueeze(0));
        embeds[TensorIndex.Colon, TensorIndex.Slice(3, 3 + Visual)] = randn(1, Visual, dims.HiddenSize);
        using var sequence = new MultimodalSequence(embeds.clone(), TinyLlama.Positions(0, tokenIds.Count),
            [new VisualSpan(3, Visual, 0)], tokenIds);
        using var cache = KvCache.For(dims, 1, 32, ScalarType.Float32);
        var pruner = new DropOddVisualTokens();

        using var prefill = DecoderRunner.Prefill(lm, sequence, cache, pruner);
        var report = EfficiencyReport.From(prefill, dims, cache);

        Assert.That(pruner.Calls, Is.EqualTo(1));
        // Hand-derived: layer 0 sees 13 positions (8 visual); layers 1, 2 see 9 (4 visual).
        Assert.That(report.Tokens.VisualPerLayer, Is.EqualTo(new long[] { 8, 4, 4 }));
        Assert.That(report.Tokens.SequencePerLayer, Is.EqualTo(new long[] { 13, 9, 9 }));
        Assert.That(cache.Lengths, Is.EqualTo(new long[] { 13, 9, 9 }), "the cache holds what each layer saw");
        // Measured = theoretical = (13 + 9 + 9) positions · 2 (K, V) · 2 kv heads · 8 head_dim · 4 bytes.
        Assert.That(report.KvBytesMeasured, Is.EqualTo(cache.BytesInUse));
        Assert.That(report.KvBytes, Is.EqualTo(31 * 2 * 2 * 8 * 4));
        Assert.That(report.KvBytesMeasured, Is.EqualTo(report.KvBytes));

        var theory = EfficiencyReport.Estimate(TokenSchedule.Build(3, Visual, Text, [new PruningStage { AfterLayer = 1, Keep = 4 }]),
            dims, ScalarType.Float32);
        Assert.That(report.Tokens.VisualPerLayer, Is.EqualTo(theory.Tokens.VisualPerLayer));
        Assert.That(report.Tokens.SequencePerLayer, Is.EqualTo(theory.Tokens.SequencePerLayer));
        Assert.That(report.PaperFlops, Is.EqualTo(theory.PaperFlops));
        Assert.That(report.ExactFlops, Is.EqualTo(theory.ExactFlops));
        Assert.That(report.ProbeFlopsCheap, Is.EqualTo(theory.ProbeFlopsCheap));
        Assert.That(report.AverageVisualTokens, Is.EqualTo((8 + 4 + 4) / 3.0));
        Assert.That(report.PrefillMs, Is.GreaterThan(0));
        Assert.That(report.PruningMs, Is.GreaterThanOrEqualTo(0).And.LessThanOrEqualTo(report.PrefillMs!.Value));
        Assert.That(report.VisionMs, Is.Null, "no generation stats given");
    }

    [Test]
    public void From_UnprunedPrefill_ComparesAsBaseline_AndTakesStatsTimings()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        var dims = TinyLlama.Mha with { NumLayers = 2 };
        using var lm = TinyLlama.Create(dims);
        var ids = new[] { 1, 3, 3, 3, 3, 2 };
        using var sequence = new MultimodalSequence(lm.Embed(tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0)),
            TinyLlama.Positions(0, ids.Length), [new VisualSpan(1, 4, 0)], ids);
        using var cache = KvCache.For(dims, 1, 8, ScalarType.Float32);
        using var prefill = DecoderRunner.Prefill(lm, sequence, cache);
        var stats = new GenerationStats { VisionMs = 3, PrefillMs = 10, PruningMs = 0, DecodeMs = 7, TokensGenerated = 2, KvCacheBytes = 1 };
        var baseline = EfficiencyReport.From(prefill, dims, stats: stats, kvDType: ScalarType.Float32);

        Assert.That(baseline.Tokens.SequencePerLayer, Is.EqualTo(new long[] { 6, 6 }));
        Assert.That(baseline.Tokens.Events, Is.Empty);
        Assert.That(baseline.ProbeFlopsFull, Is.Zero);
        Assert.That(baseline.KvBytesMeasured, Is.EqualTo(1), "from the stats when no cache is given");
        Assert.That(baseline.TotalMs, Is.EqualTo(20));

        var pruned = baseline with { PrefillMs = 4, VisionMs = 3, DecodeMs = 3, PaperFlops = baseline.PaperFlops / 4, KvBytes = baseline.KvBytes / 2 };
        var cmp = pruned.CompareTo(baseline);
        Assert.That(cmp.PrefillSpeedup, Is.EqualTo(2.5));
        Assert.That(cmp.TotalSpeedup, Is.EqualTo(2.0));
        Assert.That(cmp.PaperFlopsReduction, Is.EqualTo(4.0).Within(1e-3));
        Assert.That(cmp.KvReduction, Is.EqualTo(2.0));
        Assert.Throws<ArgumentException>(() => EfficiencyReport.From(prefill, dims));
    }
}
