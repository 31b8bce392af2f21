using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.PreLlm;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

public class VScanSelectionTests
{
    const int Grid = 24, N = Grid * Grid, Heads = 4;

    /// <summary>Distinct scores k/1024 for k a seeded permutation of 0..N−1 (exact in float32).</summary>
    static double[] DistinctScores(int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, N).OrderBy(_ => rng.Next()).Select(k => k / 1024.0).ToArray();
    }

    /// <summary>
    /// Per-head rows [Heads, N] whose head mean is exactly <paramref name="mean"/> but whose single heads rank
    /// differently (offsets ±(j mod 7)/2048 that cancel over the heads), so only the head mean gives the oracle's picks.
    /// </summary>
    static Tensor PerHead(double[] mean, int seed)
    {
        var rng = new Random(seed);
        var offsets = Enumerable.Range(0, N).Select(_ => rng.Next(1, 8) / 2048.0).ToArray();
        double[] signs = [-1.5, -0.5, 0.5, 1.5];
        var data = new float[Heads * N];
        for (int h = 0; h < Heads; h++)
            for (int j = 0; j < N; j++)
                data[h * N + j] = (float)(mean[j] + signs[h] * offsets[j]);
        return tensor(data, [Heads, N]);
    }

    static VisionStageContext Context(Tensor features, double[] shallow, double[] deep, int seed) =>
        new(0, features, new VScanFixtures.FakeSignals(Grid, new Dictionary<int, Tensor>
        {
            [5] = PerHead(shallow, seed),
            [22] = PerHead(deep, seed + 1),
        }));

    static double[][] Rows(Tensor t)
    {
        var flat = t.to(ScalarType.Float64).data<double>().ToArray();
        int width = (int)t.shape[1];
        return Enumerable.Range(0, (int)t.shape[0]).Select(r => flat.Skip(r * width).Take(width).ToArray()).ToArray();
    }

    [TestCase(96, 48, 48, Description = "3 per window + 48 global")]
    [TestCase(64, 32, 32)]
    [TestCase(192, 96, 96)]
    [TestCase(100, 48, 50, Description = "int(100/2) = 50 is no multiple of 16: 48 local, 98 kept in all")]
    [TestCase(20, 0, 10, Description = "fewer than 16 local: k = 0")]
    public void PicksEqualTheBruteForceReference(int budget, int localCount, int globalCount)
    {
        using var scope = NewDisposeScope();
        var shallow = DistinctScores(budget);
        var deep = DistinctScores(budget + 1000);
        var (refLocal, refGlobal, refKept) = VScanReference.Select(shallow, deep, Grid, budget);
        Assert.That(refLocal, Has.Count.EqualTo(localCount), "oracle local count (hand-derived)");
        Assert.That(refGlobal, Has.Count.EqualTo(globalCount), "oracle global count (hand-derived)");

        var selection = VScanEncoderStage.Select(shallow.Select(v => (float)v).ToArray(), deep.Select(v => (float)v).ToArray(), Grid, Grid, budget);
        Assert.That(selection.Local, Is.EqualTo(refLocal.Select(i => (long)i)), "local picks, window by window");
        Assert.That(selection.Global, Is.EqualTo(refGlobal.Select(i => (long)i)), "global picks");
        Assert.That(selection.Kept, Is.EqualTo(refKept.Select(i => (long)i)), "union");

        // Through the reducer, from per-head CLS rows (head mean) and with merging.
        var features = randn([N, 16], generator: new Generator(7));
        var reduction = new VScanEncoderStage(budget).Reduce(Context(features, shallow, deep, budget));
        Assert.That(reduction.KeptIndices, Is.EqualTo(refKept.Select(i => (long)i)), "reducer kept indices");
        Assert.That(reduction.KeptIndices, Has.Length.EqualTo(localCount + globalCount));
        var expected = VScanReference.Merge(Rows(features), refKept);
        TensorAssert.Close(reduction.Features, tensor(expected.SelectMany(r => r).ToArray(), [expected.Length, 16]),
            atol: 1e-5, rtol: 1e-5, what: $"merged features, T = {budget}");
    }

    [Test]
    public void LocalPicksAreKPerWindow()
    {
        var shallow = DistinctScores(3).Select(v => (float)v).ToArray();
        var selection = VScanEncoderStage.Select(shallow, DistinctScores(4).Select(v => (float)v).ToArray(), Grid, Grid, 96);
        var perWindow = selection.Local.GroupBy(i => (i / Grid / 6) * 4 + i % Grid / 6).ToDictionary(g => g.Key, g => g.Count());
        Assert.That(perWindow.Keys.Order(), Is.EqualTo(Enumerable.Range(0, 16)), "every 6 × 6 window contributes");
        Assert.That(perWindow.Values, Is.All.EqualTo(3));
        Assert.That(selection.Global.Intersect(selection.Local), Is.Empty, "global never repeats a local pick");
    }

    [Test]
    public void TiesGoToTheLowestIndex()
    {
        // Constant maps, T = 96: each window's first 3 patches of its top row are local; the global picks are then the
        // 48 lowest remaining indices: row 0's 12 non-local patches, all of row 1, and row 2's first 12.
        var flat = Enumerable.Repeat(0.5f, N).ToArray();
        var selection = VScanEncoderStage.Select(flat, flat, Grid, Grid, 96);
        long[] local = [0, 1, 2, 6, 7, 8, 12, 13, 14, 18, 19, 20];
        Assert.That(selection.Local.Take(12), Is.EqualTo(new long[] { 0, 1, 2, 6, 7, 8, 12, 13, 14, 18, 19, 20 }), "first window row");
        long[] global = [3, 4, 5, 9, 10, 11, 15, 16, 17, 21, 22, 23, .. Enumerable.Range(24, 36).Select(i => (long)i)];
        Assert.That(selection.Global, Is.EqualTo(global));
        Assert.That(local, Is.SubsetOf(selection.Kept));
    }

    [TestCase(576)]
    [TestCase(1000)]
    public void ABudgetOfAllTokensKeepsThemUnmergedWithoutReadingSignals(int budget)
    {
        using var scope = NewDisposeScope();
        var features = randn([N, 16], generator: new Generator(8));
        var context = new VisionStageContext(0, features, new VScanFixtures.FakeSignals(Grid, new Dictionary<int, Tensor>()));
        var reduction = new VScanEncoderStage(budget).Reduce(context);
        Assert.That(reduction.KeptIndices, Is.EqualTo(Enumerable.Range(0, N).Select(i => (long)i)));
        TensorAssert.Close(reduction.Features, features, atol: 0, rtol: 0, what: "features unchanged");
    }

    [Test]
    public void RequestsLayersFiveAndMinusTwo()
    {
        var stage = new VScanEncoderStage(96);
        Assert.That(stage.Signals.ClsAttentionLayers, Is.EqualTo(new[] { 5, -2 }));
        Assert.That(stage.Signals.KeyLayers, Is.Empty);
        Assert.That(VisionSignalRequest.ResolveLayer(-2, 24), Is.EqualTo(22), "HF attentions[−2] of 24 layers is layer 22");
        Assert.That(VisionSignalRequest.ResolveHiddenState(-2, 24), Is.EqualTo(23), "hidden_states[−2] = output of layer 22");
    }

    [Test]
    public void BadInputsThrowNamingTheProblem()
    {
        Assert.That(() => new VScanEncoderStage(0), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("T = 0"));
        using var scope = NewDisposeScope();
        var context = new VisionStageContext(2, zeros(100, 8), new VScanFixtures.FakeSignals(Grid, new Dictionary<int, Tensor>()));
        Assert.That(() => new VScanEncoderStage(64).Reduce(context),
            Throws.ArgumentException.With.Message.Contains("image 2: 100 feature rows for a 24 × 24"));
        Assert.That(() => VScanEncoderStage.Select(new float[9], new float[9], 3, 3, 4),
            Throws.ArgumentException.With.Message.Contains("too small"));
    }

    [Test]
    public void GridsNotDivisibleByFourFoldTheRemainderIntoTheLastWindow()
    {
        // 7 × 7: windows of 1 row/column, the last one 4 wide. With k = 1 (T = 32) and scores rising with the index,
        // each window gives its last (highest) patch: the last window (rows 3..6, cols 3..6) gives patch 48.
        var rising = Enumerable.Range(0, 49).Select(i => (float)i).ToArray();
        var selection = VScanEncoderStage.Select(rising, rising, 7, 7, 32);
        Assert.That(selection.Local, Has.Length.EqualTo(16));
        Assert.That(selection.Local[0], Is.EqualTo(0), "window (0,0) is patch 0 alone");
        Assert.That(selection.Local[3], Is.EqualTo(6), "window (0,3) = row 0, cols 3..6 → patch 6");
        Assert.That(selection.Local[15], Is.EqualTo(48));
    }
}
