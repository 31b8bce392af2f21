using PioFvlm.Core.Pruning.PreLlm;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

public class VScanMergingTests
{
    static double[][] Rows(Tensor t)
    {
        var flat = t.to(ScalarType.Float64).data<double>().ToArray();
        int width = (int)t.shape[1];
        return Enumerable.Range(0, (int)t.shape[0]).Select(r => flat.Skip(r * width).Take(width).ToArray()).ToArray();
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void DroppedTokensJoinTheirMostSimilarKeptTokenAndKeptRowsBecomeMeans(int seed)
    {
        using var scope = NewDisposeScope();
        var features = randn([40, 8], generator: new Generator((ulong)seed));
        var rng = new Random(seed);
        int[] kept = Enumerable.Range(0, 40).OrderBy(_ => rng.Next()).Take(10).Order().ToArray();

        var merged = TokenMerging.MergeIntoNearest(features, kept.Select(i => (long)i).ToArray());

        var expected = VScanReference.Merge(Rows(features), kept);
        TensorAssert.Close(merged, tensor(expected.SelectMany(r => r).ToArray(), [10, 8]).to(ScalarType.Float32),
            atol: 1e-5, rtol: 1e-5, what: "merged rows vs brute force");
        // The merge is a real one: some kept row changed.
        var keptRows = features.index_select(0, tensor(kept.Select(i => (long)i).ToArray()));
        Assert.That((merged - keptRows).abs().max().item<float>(), Is.GreaterThan(1e-3f));
    }

    [Test]
    public void CosineNotDistanceDecidesTheTarget()
    {
        // Dropped row (10, 0) is closer in distance to kept (1, 1) but points the same way as kept (0.1, 0).
        using var scope = NewDisposeScope();
        var features = tensor(new float[] { 0.1f, 0, 1, 1, 10, 0 }, [3, 2]);
        var merged = TokenMerging.MergeIntoNearest(features, [0L, 1L]);
        TensorAssert.Close(merged, tensor(new float[] { 5.05f, 0, 1, 1 }, [2, 2]), atol: 1e-6, what: "hand-derived means");
    }

    [Test]
    public void NoDroppedTokensReturnsTheFeaturesUnchanged()
    {
        using var scope = NewDisposeScope();
        var features = randn([12, 5], generator: new Generator(4));
        var merged = TokenMerging.MergeIntoNearest(features, Enumerable.Range(0, 12).Select(i => (long)i).ToArray());
        TensorAssert.Close(merged, features, atol: 0, rtol: 0, what: "unchanged");
    }

    [Test]
    public void KeepsTheInputDtype()
    {
        using var scope = NewDisposeScope();
        var features = randn([16, 4], generator: new Generator(5)).to(ScalarType.BFloat16);
        var merged = TokenMerging.MergeIntoNearest(features, [1L, 5L, 9L]);
        Assert.That(merged.dtype, Is.EqualTo(ScalarType.BFloat16));
        Assert.That(merged.shape, Is.EqualTo(new long[] { 3, 4 }));
    }

    [Test]
    public void BadKeptIndicesThrow()
    {
        using var scope = NewDisposeScope();
        var features = zeros(4, 2);
        Assert.That(() => TokenMerging.MergeIntoNearest(features, [0L, 4L]), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("kept index 4"));
        Assert.That(() => TokenMerging.MergeIntoNearest(features, [1L, 1L]), Throws.ArgumentException.With.Message.Contains("twice"));
        Assert.That(() => TokenMerging.MergeIntoNearest(features, Array.Empty<long>()), Throws.ArgumentException.With.Message.Contains("at least one"));
    }
}
