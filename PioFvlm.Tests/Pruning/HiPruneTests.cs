using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.PreLlm;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>HiPrune against a set-based re-statement and hand-worked neighbourhoods.</summary>
public class HiPruneTests
{
    /// <summary>Anchors (top object-layer scores, first index on ties), their ±1 / ±W neighbours clamped to the token
    /// range, then registers by deep-layer score among the rest.</summary>
    internal static long[] Reference(double[] objectScores, double[] deepScores, int width, int budget, int anchors)
    {
        int n = objectScores.Length;
        var set = new SortedSet<int>();
        foreach (int p in Enumerable.Range(0, n).OrderByDescending(i => objectScores[i]).Take(anchors))
            foreach (int d in new[] { 0, -1, 1, -width, width })
                set.Add(Math.Min(Math.Max(p + d, 0), n - 1));
        var registers = Enumerable.Range(0, n).Where(i => !set.Contains(i)).OrderByDescending(i => deepScores[i]).Take(budget - set.Count);
        return set.Concat(registers).Order().Select(i => (long)i).ToArray();
    }

    static float[] F(double[] x) => x.Select(v => (float)v).ToArray();

    [Test]
    public void HandCase_AnchorsBuffersAndRegisters()
    {
        // 4 × 4 grid. Object-layer top = 5 (row 1, column 1) → buffers 4, 6, 1, 9. Deep-layer scores favour 15, then 5
        // (taken), then 0: with budget 7, registers 15 and 0.
        var obj = new float[16];
        obj[5] = 1;
        var deep = new float[16];
        deep[15] = 0.9f; deep[5] = 0.8f; deep[0] = 0.7f; deep[2] = 0.1f;
        Assert.That(HiPrune.Select(obj, deep, 4, 7, 1), Is.EqualTo(new long[] { 0, 1, 4, 5, 6, 9, 15 }));
    }

    [Test]
    public void HandCase_TheReferenceClampWrapsAndPinsEdges()
    {
        var deep = Enumerable.Range(0, 16).Select(i => (float)i).ToArray();   // registers from the end
        // Anchor 0: 0 − 1 and 0 − 4 clamp to 0, so the neighbourhood is {0, 1, 4}; budget 4 → register 15.
        var obj = new float[16];
        obj[0] = 1;
        Assert.That(HiPrune.Select(obj, deep, 4, 4, 1), Is.EqualTo(new long[] { 0, 1, 4, 15 }));
        // Anchor 3 (end of row 0): 3 + 1 = 4 wraps to the next row's start and 3 − 4 clamps to 0: {0, 2, 3, 4, 7}.
        obj = new float[16];
        obj[3] = 1;
        Assert.That(HiPrune.Select(obj, deep, 4, 6, 1), Is.EqualTo(new long[] { 0, 2, 3, 4, 7, 15 }));
    }

    [Test]
    public void PresetsAndLayers()
    {
        Assert.That(new[] { 64, 128, 192 }.Select(b => new HiPrune(b).AnchorCount), Is.EqualTo(new[] { 1, 3, 4 }));
        Assert.That(new HiPrune(25).AnchorCount, Is.EqualTo(0), "round(0.5) is 0 in Python (half to even)");
        Assert.That(new HiPrune(64).SignalsFor(24).MeanAttentionLayers, Is.EqualTo(new[] { 8, -2 }), "object layer 9 (1-based) = attentions[8]");
        Assert.That(new HiPrune(64).SignalsFor(3).MeanAttentionLayers, Is.EqualTo(new[] { 0, -2 }), "round(9 · 3 / 24) = 1");
        Assert.That(new HiPrune(64).SignalsFor(32).MeanAttentionLayers, Is.EqualTo(new[] { 11, -2 }));
        Assert.That(new HiPrune(64, objectLayer: 16).SignalsFor(32).MeanAttentionLayers, Is.EqualTo(new[] { 15, -2 }));
    }

    [TestCase(1, 20, 2)]
    [TestCase(2, 30, 3)]
    [TestCase(3, 26, 5)]
    public void SelectMatchesTheReference(int seed, int budget, int anchors)
    {
        var rng = new Random(seed);
        var obj = Enumerable.Range(0, 49).Select(_ => rng.NextDouble()).ToArray();
        var deep = Enumerable.Range(0, 49).Select(_ => rng.NextDouble()).ToArray();
        var kept = HiPrune.Select(F(obj), F(deep), 7, budget, anchors);
        Assert.That(kept, Is.EqualTo(Reference(obj, deep, 7, budget, anchors)));
        Assert.That(kept, Has.Length.EqualTo(budget).And.Unique.And.Ordered.Ascending);
        Assert.That(HiPrune.Select(F(obj), F(deep), 7, budget, anchors), Is.EqualTo(kept), "deterministic");
    }

    [Test]
    public void AnchorsAndBuffersBeyondTheBudgetAreCutToIt()
    {
        var obj = Enumerable.Range(0, 49).Select(i => (float)(49 - i)).ToArray();   // anchors 0, 1, 2, …
        var kept = HiPrune.Select(obj, new float[49], 7, 4, 3);
        Assert.That(kept, Is.EqualTo(new long[] { 0, 1, 2, 7 }), "anchor 0 with {1, 7}, then anchor 1's first new neighbour 2");
    }

    [Test]
    public void ReduceReadsTheObjectAndDeepLayersGlobalAttention()
    {
        int n = 9;
        var objRows = new float[2 * n];
        objRows[4] = 1; objRows[n + 4] = 1;       // both heads put the anchor at the centre
        var deepRows = new float[2 * n];
        deepRows[8] = 1; deepRows[n + 0] = 0.5f;   // head means: 8 → 0.5, 0 → 0.25
        using var scope = NewDisposeScope();
        var signals = new MeanAttentionSignals(3, 3, new() { [0] = tensor(objRows, [2, n]), [1] = tensor(deepRows, [2, n]) });
        var context = new VisionStageContext(0, arange(n * 2, ScalarType.Float32).reshape(n, 2), signals);
        // 3 layers: object layer round(9 · 3 / 24) = 1 → index 0; deep −2 → index 1. Budget 7 with 1 anchor
        // (objectLayer given, alpha 5/7 → round(1)): {4, 3, 5, 1, 7} + registers 8, 0.
        var reduced = new HiPrune(7, alpha: 5.0 / 7).Reduce(context);
        Assert.That(reduced.KeptIndices, Is.EqualTo(new long[] { 0, 1, 3, 4, 5, 7, 8 }));
    }

    sealed class MeanAttentionSignals(int grid, int layers, Dictionary<int, Tensor> mean) : IVisionSignals
    {
        public int EncoderLayers => layers;
        public int GridHeight => grid;
        public int GridWidth => grid;
        public bool FeaturesIncludeCls => false;
        public Tensor SelectedFeatures => throw new NotSupportedException();
        public Tensor ClsAttention(int layer) => throw new NotSupportedException();
        public Tensor Keys(int layer) => throw new NotSupportedException();
        public Tensor HiddenState(int index) => throw new NotSupportedException();
        public Tensor Project(Tensor visionFeatures) => throw new NotSupportedException();
        public Tensor MeanAttention(int layer) => mean[VisionSignalRequest.ResolveLayer(layer, layers)];
    }
}
