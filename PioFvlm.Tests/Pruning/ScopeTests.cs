using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.PreLlm;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>SCOPE against hand-derived picks and a brute-force reading of specs/baselines.md §10.3.</summary>
public class ScopeTests
{
    /// <summary>The greedy facility-location × saliency pick in doubles, by the definition; ascending.</summary>
    internal static long[] Reference(EncoderSignalData d, int budget, double alpha = 1)
    {
        int n = d.Patches;
        var x = d.Hidden.Skip(1).Select(r => { double norm = Math.Sqrt(r.Sum(v => v * v)); return r.Select(v => v / norm).ToArray(); }).ToArray();
        var cos = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                cos[i, j] = x[i].Zip(x[j], (p, q) => p * q).Sum();
        double Cos(int i, int j) => cos[i, j];
        var a = Enumerable.Range(0, n).Select(j => Math.Pow(d.Cls.Sum(h => h[j]), alpha)).ToArray();
        var cover = new double[n];
        var chosen = new List<int>();
        for (int step = 0; step < budget; step++)
        {
            int best = -1;
            double bestScore = double.NegativeInfinity;
            for (int j = 0; j < n; j++)
            {
                if (chosen.Contains(j)) continue;
                double gain = 0;
                for (int i = 0; i < n; i++) gain += Math.Max(0, Cos(i, j) - cover[i]);
                if (gain * a[j] > bestScore) (best, bestScore) = (j, gain * a[j]);
            }
            chosen.Add(best);
            for (int i = 0; i < n; i++) cover[i] = Math.Max(cover[i], Cos(i, best));
        }
        return chosen.Order().Select(j => (long)j).ToArray();
    }

    static EncoderSignalData Hand(double[] saliency)
    {
        double s = Math.Sqrt(0.5);
        return new EncoderSignalData
        {
            Grid = 2,
            Cls = [saliency],
            Keys = [Enumerable.Range(0, 5).Select(_ => new double[] { 1 }).ToArray()],
            Hidden = [[3, 3], [1, 0], [1, 0], [0, 1], [s, s]],
            W = [[1, 0], [0, 1]],
        };
    }

    [Test]
    public void HandDerivedPicksFollowCoverageThenSaliency()
    {
        // Patches: 0 = 1 = (1,0), 2 = (0,1), 3 = diagonal. Equal saliency: gains 2.71, 2.71, 1.71, 3.12 → 3 first;
        // then 0.59, 0.59, 0.29 → patch 0 (tie with 1 goes to the lower index).
        using var scope = NewDisposeScope();
        var equal = new Scope(2).Reduce(Hand([1, 1, 1, 1]).Context());
        Assert.That(equal.KeptIndices, Is.EqualTo(new long[] { 0, 3 }));
        TensorAssert.Close(equal.Features, EncoderSignalData.ToTensor([[1, 0], [Math.Sqrt(0.5), Math.Sqrt(0.5)]]), 1e-6, 1e-6, "kept rows");
        // Saliency 2 on patch 1 doubles its gain (5.41) → 1 first; then gains 0, 1, 1 × 0.9 → patch 2.
        var weighted = new Scope(2).Reduce(Hand([1, 2, 1, 0.9]).Context());
        Assert.That(weighted.KeptIndices, Is.EqualTo(new long[] { 1, 2 }));
    }

    [TestCase(64)]
    [TestCase(128)]
    [TestCase(192)]
    [TestCase(1)]
    [TestCase(7)]
    public void MatchesTheBruteForceDefinition(int budget)
    {
        var data = EncoderSignalData.Random(budget <= 7 ? 5 : 24, seed: 100 + budget);
        using var scope = NewDisposeScope();
        var context = data.Context();
        var result = new Scope(budget).Reduce(context);
        var expected = Reference(data, budget);
        Assert.That(result.KeptIndices, Is.EqualTo(expected));
        Assert.That(result.KeptIndices, Is.Ordered.And.Unique, "raster order");
        TensorAssert.Close(result.Features, context.Features.index_select(0, tensor(expected)), 0, 0, "kept projected rows");
    }

    [Test]
    public void AlphaZeroIgnoresSaliency()
    {
        var data = EncoderSignalData.Random(5, seed: 9);
        using var scope = NewDisposeScope();
        Assert.That(new Scope(6, alpha: 0).Reduce(data.Context()).KeptIndices, Is.EqualTo(Reference(data, 6, alpha: 0)));
        Assert.That(new Scope(6, alpha: 0.5).Reduce(data.Context()).KeptIndices, Is.EqualTo(Reference(data, 6, alpha: 0.5)));
    }

    [Test]
    public void RegistryBudgetsAndFullBudget()
    {
        foreach (int keep in new[] { 64, 128, 192 })
        {
            var s = (Scope)PruningRegistry.CreatePreLlm("SCOPE", keep);
            Assert.That((s.Budget, s.Alpha), Is.EqualTo((keep, 1.0)));
            Assert.That(s.Signals.ClsAttentionLayers, Is.EqualTo(new[] { -2 }));
            Assert.That(s.Signals.HiddenStates, Is.EqualTo(new[] { -2 }));
        }
        var data = EncoderSignalData.Random(4, seed: 2);
        using var scope = NewDisposeScope();
        var context = data.Context();
        var all = new Scope(16).Reduce(context);
        TensorAssert.Close(all.Features, context.Features, 0, 0, "keep-all");
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new Scope(0));
    }

    [Test]
    public void RepeatedCallsGiveIdenticalOutput()
    {
        var data = EncoderSignalData.Random(24, seed: 55);
        using var scope = NewDisposeScope();
        var a = new Scope(64).Reduce(data.Context());
        var b = new Scope(64).Reduce(data.Context());
        Assert.That(b.KeptIndices, Is.EqualTo(a.KeptIndices));
        TensorAssert.Close(b.Features, a.Features, 0, 0, "determinism");
    }
}
