using PioFvlm.Core.Generation;
using PioFvlm.Core.IO;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.PreLlm;
using PioFvlm.Models;
using PioFvlm.Models.Qwen25Vl;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>
/// The encoder-side baselines adapted to Qwen2.5-VL's CLS-free tower (VisionZip, HoloV, SCOPE, VisPruner, HiPrune; the
/// methods README): the signals each asks of the tower, each selection against a brute-force computation written out
/// here on a tiny tensor (received attention per head → the method's score → its choice), and each method end to end
/// on the HF fixture model: budget kept, original 3-D positions, keep-all identical to no reducer, Generate runs.
/// </summary>
public class Qwen25VlEncoderBaselineTests
{
    const int Eos = 255;
    static readonly string[] Adapted = ["VisionZip", "HoloV", "SCOPE", "VisPruner", "HiPrune"];

    /// <summary>The test tower's shape: 4 blocks, full attention in 1 and 3.</summary>
    static readonly VisionTowerInfo Tower = Qwen25VlVisionSignals.Info(4, [1, 3]);

    [TestCase("VisionZip", new[] { 3 })]
    [TestCase("HoloV", new[] { 3 })]
    [TestCase("SCOPE", new[] { 3 })]
    [TestCase("VisPruner", new[] { 3 })]
    [TestCase("HiPrune", new[] { 1, 3 })]
    public void OnACLSFreeTowerEachAsksOnlyForReceivedAttention(string method, int[] blocks)
    {
        var request = PruningRegistry.CreatePreLlm(method, TokenBudget.Ratio(0.25)).SignalsFor(Tower);
        Assert.That(request.ReceivedAttentionLayers, Is.EqualTo(blocks), method);
        Assert.That(request.ClsAttentionLayers.Concat(request.KeyLayers).Concat(request.HiddenStates).Concat(request.MeanAttentionLayers), Is.Empty, method);
        // The 7B tower (32 blocks, full attention in 7, 15, 23, 31): the last full block; HiPrune's object block 16 (1-based).
        var sevenB = PruningRegistry.CreatePreLlm(method, 64).SignalsFor(Qwen25VlVisionSignals.Info(32, [7, 15, 23, 31]));
        Assert.That(sevenB.ReceivedAttentionLayers, Is.EqualTo(method == "HiPrune" ? new[] { 15, 31 } : new[] { 31 }), method + " on the 7B");
    }

    /// <summary>A tiny CLS-free image: a 3 × 4 token grid, 2 heads, random received attention per block (blocks 1 and 3
    /// differ, so reading the wrong one shows), random token features [12, 5].</summary>
    sealed class Tiny
    {
        public const int H = 3, W = 4, N = H * W, Heads = 2, Dim = 5;
        public readonly double[][] Block1, Block3, Features;

        public Tiny(int seed)
        {
            var rng = new Random(seed);
            double[][] Random(int rows, int cols) => Enumerable.Range(0, rows).Select(_ => Enumerable.Range(0, cols).Select(_ => rng.NextDouble() * 2 - 1).ToArray()).ToArray();
            Block1 = Random(Heads, N).Select(r => r.Select(Math.Abs).ToArray()).ToArray();
            Block3 = Random(Heads, N).Select(r => r.Select(Math.Abs).ToArray()).ToArray();
            Features = Random(N, Dim);
        }

        static Tensor T(double[][] rows) => tensor(rows.SelectMany(r => r).Select(v => (float)v).ToArray(), [rows.Length, rows[0].Length]);

        public VisionStageContext Context()
        {
            var features = T(Features);
            var received = new Dictionary<int, Tensor> { [1] = T(Block1), [3] = T(Block3) };
            return new VisionStageContext(0, features, new Qwen25VlVisionSignals(4, [1, 3], H, W, features, received));
        }

        /// <summary>Σ over heads (sum) or the head mean, in double, as plain loops.</summary>
        public static double[] OverHeads(double[][] perHead, bool sum) =>
            Enumerable.Range(0, N).Select(i => perHead.Sum(h => h[i]) / (sum ? 1 : perHead.Length)).ToArray();

        public double Cos(int i, int j)
        {
            double dot = 0, a = 0, b = 0;
            for (int d = 0; d < Dim; d++) { dot += Features[i][d] * Features[j][d]; a += Features[i][d] * Features[i][d]; b += Features[j][d] * Features[j][d]; }
            return dot / Math.Sqrt(a) / Math.Sqrt(b);
        }

        /// <summary>Indices by descending score, ties to the lower index.</summary>
        public static int[] Ranked(IEnumerable<int> candidates, double[] score) =>
            candidates.OrderByDescending(i => score[i]).ThenBy(i => i).ToArray();
    }

    static double[][] Rows(Tensor t)
    {
        var flat = t.to(ScalarType.Float64).cpu().data<double>().ToArray();
        int width = (int)t.shape[1];
        return Enumerable.Range(0, (int)t.shape[0]).Select(r => flat.Skip(r * width).Take(width).ToArray()).ToArray();
    }

    /// <summary>VisionZip on Qwen: D dominant by Σ_heads received attention of block 3; of the rest (ascending), C targets
    /// every ⌊|rest| / C⌋-th; each other token joins its most cosine-similar target; a contextual row is target + mean of
    /// its group; rows in ascending kept order.</summary>
    [TestCase(7, 4, 2)]
    [TestCase(8, 1, 3)]
    [TestCase(9, 5, 0)]
    public void VisionZipMatchesABruteForceOnReceivedAttention(int seed, int dominant, int contextual)
    {
        var tiny = new Tiny(seed);
        using var scope = NewDisposeScope();
        var reduction = new VisionZip(dominant, contextual).Reduce(tiny.Context());

        var score = Tiny.OverHeads(tiny.Block3, sum: true);
        var dom = Tiny.Ranked(Enumerable.Range(0, Tiny.N), score).Take(dominant).ToHashSet();
        var rest = Enumerable.Range(0, Tiny.N).Where(i => !dom.Contains(i)).ToArray();
        var rows = new SortedDictionary<int, double[]>();
        foreach (int d in dom) rows[d] = tiny.Features[d];
        if (contextual > 0)
        {
            int step = Math.Max(1, rest.Length / contextual);
            var targets = Enumerable.Range(0, rest.Length).Where(p => p % step == 0).Take(contextual).Select(p => rest[p]).ToArray();
            var groups = targets.ToDictionary(t => t, _ => new List<int>());
            foreach (int o in rest.Except(targets))
            {
                int best = targets[0];
                foreach (int t in targets) if (tiny.Cos(o, t) > tiny.Cos(o, best)) best = t;
                groups[best].Add(o);
            }
            foreach (var (t, group) in groups)
                rows[t] = group.Count == 0 ? tiny.Features[t]
                    : tiny.Features[t].Select((v, d) => v + group.Average(g => tiny.Features[g][d])).ToArray();
        }
        Assert.That(reduction.KeptIndices, Is.EqualTo(rows.Keys.Select(k => (long)k)), "dominant ∪ targets, ascending");
        var actual = Rows(reduction.Features);
        var expected = rows.Values.ToArray();
        for (int r = 0; r < expected.Length; r++)
            Assert.That(actual[r], Is.EqualTo(expected[r]).Within(1e-5), $"row {r} (token {reduction.KeptIndices[r]})");
    }

    /// <summary>SCOPE on Qwen: greedy facility location on the merged tokens' cosines times Σ_heads received attention of
    /// block 3, written out in double.</summary>
    [TestCase(3, 1)]
    [TestCase(4, 5)]
    [TestCase(5, 11)]
    public void ScopeMatchesABruteForceOnReceivedAttention(int seed, int budget)
    {
        var tiny = new Tiny(seed);
        using var scope = NewDisposeScope();
        var reduction = new Scope(budget).Reduce(tiny.Context());

        var saliency = Tiny.OverHeads(tiny.Block3, sum: true);
        var cover = new double[Tiny.N];
        var picked = new List<int>();
        for (int step = 0; step < budget; step++)
        {
            int best = -1;
            double bestScore = double.NegativeInfinity;
            for (int j = 0; j < Tiny.N; j++)
            {
                if (picked.Contains(j)) continue;
                double gain = Enumerable.Range(0, Tiny.N).Sum(i => Math.Max(0, tiny.Cos(i, j) - cover[i]));
                if (gain * saliency[j] > bestScore) (best, bestScore) = (j, gain * saliency[j]);
            }
            picked.Add(best);
            for (int i = 0; i < Tiny.N; i++) cover[i] = Math.Max(cover[i], tiny.Cos(i, best));
        }
        Assert.That(reduction.KeptIndices, Is.EqualTo(picked.Order().Select(i => (long)i)));
        Assert.That(Rows(reduction.Features), Is.EqualTo(picked.Order().Select(i => tiny.Features[i].Select(v => (double)(float)v).ToArray())));
    }

    /// <summary>HiPrune on Qwen (its own code): anchors = top round(B α / 5) by the head-mean received attention of the
    /// object block (round(16 · 4 / 32) = 2, 1-based → block 1), buffers ±1 and ±W clamped, registers = the top of the
    /// rest by the last block's (3).</summary>
    [TestCase(11, 6, 1.0)]
    [TestCase(12, 9, 0.6)]
    [TestCase(13, 4, 1.0)]
    public void HiPruneMatchesABruteForceOnReceivedAttention(int seed, int budget, double alpha)
    {
        var tiny = new Tiny(seed);
        using var scope = NewDisposeScope();
        var reducer = new HiPrune(budget, alpha);
        var reduction = reducer.Reduce(tiny.Context());

        var objectScore = Tiny.OverHeads(tiny.Block1, sum: false);
        var deepScore = Tiny.OverHeads(tiny.Block3, sum: false);
        int anchors = (int)Math.Round(budget * alpha / 5, MidpointRounding.ToEven);
        Assert.That(anchors, Is.GreaterThan(0), "the case exercises anchors");
        var chosen = new List<int>();
        foreach (int p in Tiny.Ranked(Enumerable.Range(0, Tiny.N), objectScore).Take(anchors))
            foreach (int q in new[] { p, p - 1, p + 1, p - Tiny.W, p + Tiny.W })
            {
                int c = Math.Clamp(q, 0, Tiny.N - 1);
                if (!chosen.Contains(c)) chosen.Add(c);
            }
        chosen = chosen.Take(budget).ToList();
        chosen.AddRange(Tiny.Ranked(Enumerable.Range(0, Tiny.N).Where(i => !chosen.Contains(i)), deepScore).Take(budget - chosen.Count));
        Assert.That(reduction.KeptIndices, Is.EqualTo(chosen.Order().Select(i => (long)i)));
    }

    /// <summary>VisPruner on Qwen: its selection fed the head-mean received attention of block 3 and the merged tokens'
    /// cosines, both written out here (the selection itself is checked against the reference on LLaVA).</summary>
    [TestCase(21, 6)]
    [TestCase(22, 3)]
    public void VisPrunerReadsTheLastFullBlockAndTheMergedTokens(int seed, int budget)
    {
        var tiny = new Tiny(seed);
        using var scope = NewDisposeScope();
        var reducer = new VisPruner(budget);
        var reduction = reducer.Reduce(tiny.Context());
        var attention = Tiny.OverHeads(tiny.Block3, sum: false).Select(v => (float)v).ToArray();
        var cosines = Enumerable.Range(0, Tiny.N * Tiny.N).Select(k => (float)tiny.Cos(k / Tiny.N, k % Tiny.N)).ToArray();
        Assert.That(reduction.KeptIndices, Is.EqualTo(VisPruner.Select(attention, cosines, Tiny.N, budget, reducer.ImportantCount)));
        var important = Tiny.Ranked(Enumerable.Range(0, Tiny.N), attention.Select(v => (double)v).ToArray()).Take(reducer.ImportantCount);
        Assert.That(important, Is.SubsetOf(reduction.KeptIndices.Select(k => (int)k)), "the top received-attention tokens are kept");
    }

    /// <summary>HoloV on Qwen: its selection fed the head-mean received attention of block 3 (written out here); padding
    /// entries dropped, never a row without an original token.</summary>
    [TestCase(31, 4, null)]
    [TestCase(32, 6, 2)]
    [TestCase(33, 8, 6)]
    public void HoloVReadsTheLastFullBlockAndDropsPadding(int seed, int budget, int? crops)
    {
        var tiny = new Tiny(seed);
        using var scope = NewDisposeScope();
        var context = tiny.Context();
        var reduction = new HoloV(budget, crops).Reduce(context);
        var attention = Tiny.OverHeads(tiny.Block3, sum: false).Select(v => (float)v).ToArray();
        int c = Math.Min(crops ?? HoloV.CropsFor(Tiny.N, budget), Tiny.N);
        var expected = HoloV.Select(context.Features, attention, budget, c).Where(k => k >= 0).ToArray();
        Assert.That(reduction.KeptIndices, Is.EqualTo(expected));
        Assert.That(reduction.KeptIndices, Is.All.InRange(0L, Tiny.N - 1L));
        Assert.That(reduction.KeptIndices, Is.Unique);
        Assert.That(reduction.KeptIndices, Has.Length.LessThanOrEqualTo(budget));
        Assert.That(Rows(reduction.Features), Is.EqualTo(expected.Select(i => tiny.Features[i].Select(v => (double)(float)v).ToArray())));
    }

    /// <summary>Two crops of 6 tokens, crop 0's attention 10⁴ times crop 1's, K = 10: crop 0's quota is 10 but it has
    /// 6 tokens and crop 1's is 0, so the code would pad 4 zero rows; here 6 real tokens are kept and nothing is padded.</summary>
    [Test]
    public void HoloVWithAnOverfullCropKeepsFewerRowsRatherThanPadding()
    {
        var tiny = new Tiny(41);
        for (int h = 0; h < Tiny.Heads; h++)
            for (int i = 0; i < Tiny.N; i++) tiny.Block3[h][i] = i < 6 ? 1.0 : 1e-4;
        using var scope = NewDisposeScope();
        var reduction = new HoloV(10, crops: 2).Reduce(tiny.Context());
        Assert.That(reduction.KeptIndices, Is.EqualTo(new long[] { 0, 1, 2, 3, 4, 5 }), "crop 0 whole, no padding");
        Assert.That(reduction.KeptIndices, Is.All.InRange(0L, Tiny.N - 1L));
        Assert.That(reduction.KeptIndices, Is.Unique);
        Assert.That(reduction.Features.shape[0], Is.EqualTo(reduction.KeptIndices.Length));
    }



    /// <summary>
    /// Each adapted method on the fixture (two images, 35 and 16 merged tokens, tower with full attention in blocks 1
    /// and 3), absolute and ratio budgets: at most the budget per image (exactly it except HoloV, whose shortfall is not
    /// padded), kept indices of real tokens, every kept token at its original (t, h, w), the decode position of the
    /// unreduced prompt; rows of the non-merging methods equal the unreduced rows; Generate runs.
    /// </summary>
    [TestCaseSource(nameof(Adapted))]
    public void RunsOnTheFixtureWithOriginalPositions(string method)
    {
        using var fixture = Qwen25VlFixture.Open();
        var (pipeline, reference, inputs) = fixture;
        using var _ = no_grad();
        var full = pipeline.BuildSequence(inputs);
        using var fullSequence = full.Sequence;
        var fullSpans = fullSequence.VisualSpans;
        foreach (var budget in new[] { TokenBudget.Keep(6), TokenBudget.Ratio(0.25) })
        {
            var reduced = pipeline.BuildSequence(inputs, PruningRegistry.CreatePreLlm(method, budget));
            using var sequence = reduced.Sequence;
            var kept = sequence.PreLlm!.KeptIndices;
            for (int img = 0; img < 2; img++)
            {
                string what = $"{method} {budget}, image {img}";
                int limit = budget.Resolve((int)fullSpans[img].Length);
                var span = sequence.VisualSpans[img];
                if (method == "HoloV") Assert.That(span.Length, Is.InRange(1, limit), what);
                else Assert.That(span.Length, Is.EqualTo(limit), what);
                Assert.That(kept[img], Is.All.InRange(0L, fullSpans[img].Length - 1), what);
                Assert.That(kept[img], Is.Unique, what);
                var columns = tensor(kept[img].Select(k => fullSpans[img].Start + k).ToArray());
                TensorAssert.Equal(sequence.PositionIds.narrow(1, span.Start, span.Length), fullSequence.PositionIds.index_select(1, columns),
                    what + ": original (t, h, w)");
                if (method != "VisionZip")
                    TensorAssert.Equal(sequence.Embeddings.narrow(1, span.Start, span.Length), fullSequence.Embeddings.index_select(1, columns),
                        what + ": rows are the kept tokens");
            }
            Assert.That(sequence.NextPosition, Is.EqualTo(fullSequence.NextPosition), "decode position of the unreduced prompt");
        }
        var plan = PruningConfig.Parse($$"""{ "Method": "{{method}}", "PreLlmKeep": 6 }""", "test", pipeline.Profile);
        var result = pipeline.Generate(inputs, new GenerationOptions { MaxNewTokens = 2, SuppressTokens = [Eos] }, plan);
        Assert.That(result.TokenIds, Has.Count.EqualTo(2), method);
        Assert.That(result.Stats.VisualTokensIn, Is.InRange(2, 12), method);
    }

    /// <summary>A budget at or above every image's token count: the sequence is bit-identical to no reducer.</summary>
    [TestCaseSource(nameof(Adapted))]
    public void KeepAllIsIdenticalToNoReducer(string method)
    {
        using var fixture = Qwen25VlFixture.Open();
        var (pipeline, reference, inputs) = fixture;
        using var _ = no_grad();
        var full = pipeline.BuildSequence(inputs);
        using var fullSequence = full.Sequence;
        var all = pipeline.BuildSequence(inputs, PruningRegistry.CreatePreLlm(method, 1000));
        using var sequence = all.Sequence;
        TensorAssert.Equal(sequence.Embeddings, fullSequence.Embeddings, method + ": embeddings");
        TensorAssert.Equal(sequence.PositionIds, fullSequence.PositionIds, method + ": positions");
    }
}
