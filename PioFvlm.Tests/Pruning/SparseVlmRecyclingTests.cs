using PioFvlm.Core.Pruning.SparseVlm;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>DPC-KNN recycling: hand-separable clusters, and merged tokens equal to the mean of their members.</summary>
public class SparseVlmRecyclingTests
{
    [Test]
    public void TwoSeparatedGroupsBecomeTwoClustersAveragedUniformly()
    {
        using var scope = NewDisposeScope();
        double[] points = [0, 0, 0.1, 0, 0, 0.1, 10, 10, 10.1, 10, 10, 10.1, 10.05, 10.05];
        var tokens = tensor(points, [7, 2]);
        var result = TokenRecycling.Cluster(tokens, 2);
        var groups = result.Members.Select(m => m.ToArray()).OrderBy(m => m[0]).ToArray();
        Assert.That(groups[0], Is.EqualTo(new long[] { 0, 1, 2 }));
        Assert.That(groups[1], Is.EqualTo(new long[] { 3, 4, 5, 6 }));
        for (int c = 0; c < 2; c++) Assert.That(result.Members[c], Does.Contain(result.Centers[c]), "a center belongs to its own cluster");
        var expected = new[] { (0.1 / 3, 0.1 / 3), ((10 + 10.1 + 10 + 10.05) / 4, (10 + 10 + 10.1 + 10.05) / 4) };
        for (int c = 0; c < 2; c++)
        {
            var e = result.Members[c][0] == 0 ? expected[0] : expected[1];
            Assert.That(result.Merged[c, 0].item<double>(), Is.EqualTo(e.Item1).Within(1e-12));
            Assert.That(result.Merged[c, 1].item<double>(), Is.EqualTo(e.Item2).Within(1e-12));
        }
    }

    [Test]
    public void ClustersPartitionTheTokensAndMergedRowsAreMemberMeans()
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        var tokens = randn(23, 8, dtype: ScalarType.Float32);
        var result = TokenRecycling.Cluster(tokens, 3);
        Assert.That(result.Members.SelectMany(m => m).Order(), Is.EqualTo(Enumerable.Range(0, 23).Select(i => (long)i)));
        Assert.That(result.Centers.Distinct().Count(), Is.EqualTo(3));
        for (int c = 0; c < 3; c++)
        {
            var rows = SparseVlmReference.Rows(tokens);
            var mean = Enumerable.Range(0, 8).Select(j => result.Members[c].Average(i => rows[i][j])).ToArray();
            TensorAssert.Close(result.Merged[c], tensor(mean).to(ScalarType.Float32), atol: 1e-6, rtol: 0, what: $"cluster {c}");
        }
    }

    [TestCase(1, 1, 1)]
    [TestCase(9, 3, 1)]
    [TestCase(30, 10, 2)]
    [TestCase(510, 154, 16)]
    public void CountsFollowTheSpec(int dropped, int candidates, int clusters)
    {
        Assert.That(TokenRecycling.CandidateCount(dropped), Is.EqualTo(candidates));
        Assert.That(TokenRecycling.ClusterCount(candidates), Is.EqualTo(clusters));
    }
}
