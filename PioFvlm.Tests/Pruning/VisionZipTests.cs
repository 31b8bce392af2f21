using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.PreLlm;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>VisionZip against a hand-derived case and a brute-force reading of specs/baselines.md §4.3.</summary>
public class VisionZipTests
{
    /// <summary>
    /// Brute force of §4.3 in doubles: output rows (projected) and, per row, the patch it stands for (−1 for CLS,
    /// the target for a contextual row).
    /// </summary>
    internal static (double[][] Rows, long[] Kept) Reference(EncoderSignalData d, int dominant, int contextual)
    {
        int n = d.Patches;
        var score = Enumerable.Range(0, n).Select(j => d.Cls.Sum(h => h[j])).ToArray();
        var byScore = Enumerable.Range(0, n).ToList();
        byScore.Sort((a, b) => score[b] != score[a] ? score[b].CompareTo(score[a]) : a.CompareTo(b));
        var dom = new List<int> { 0 };
        dom.AddRange(byScore.Take(dominant - 1).Select(p => p + 1).OrderBy(t => t));
        var rest = Enumerable.Range(0, n + 1).Where(t => !dom.Contains(t)).ToList();
        var rows = dom.Select(t => d.Hidden[t]).ToList();
        var kept = dom.Select(t => (long)t - 1).ToList();
        if (contextual > 0)
        {
            int step = Math.Max(1, rest.Count / contextual);
            var targets = new List<int>();
            for (int i = 0; i < rest.Count && targets.Count < contextual; i += step) targets.Add(rest[i]);
            double[] Metric(int t)
            {
                var m = Enumerable.Range(0, d.Keys[0][0].Length).Select(c => d.Keys.Average(h => h[t][c])).ToArray();
                double norm = Math.Sqrt(m.Sum(v => v * v));
                return m.Select(v => v / norm).ToArray();
            }
            var groups = targets.ToDictionary(t => t, _ => new List<int>());
            foreach (int o in rest.Where(t => !targets.Contains(t)))
            {
                var mo = Metric(o);
                int best = targets[0];
                double bestSim = double.NegativeInfinity;
                foreach (int t in targets)
                {
                    double sim = Metric(t).Zip(mo, (a, b) => a * b).Sum();
                    if (sim > bestSim) (best, bestSim) = (t, sim);
                }
                groups[best].Add(o);
            }
            foreach (int t in targets)
            {
                var g = groups[t];
                rows.Add(d.Hidden[t].Select((v, c) => v + (g.Count == 0 ? 0 : g.Average(o => d.Hidden[o][c]))).ToArray());
                kept.Add(t - 1);
            }
        }
        return (rows.Select(d.Project).ToArray(), kept.ToArray());
    }

    [Test]
    public void AHandDerivedCaseKeepsClsTheTopPatchAndTwoContextualTokens()
    {
        // 3 × 3 grid, one head, 2-d keys, H = 2, identity projector. Patch 4 (token 5) has the top CLS score.
        // D = 2 → {CLS, token 5}; rest = tokens 1,2,3,4,6,7,8,9; C = 2 → step 4 → targets tokens 1 and 6.
        // Keys: 2,3,4 point like token 1 and 7,8,9 like token 6, so contextual = H1 + mean(H2..H4), H6 + mean(H7..H9).
        double[][] key = [[0, 0], [1, 0], [1, 0.1], [1, 0.1], [1, 0.1], [0, 0], [0, 1], [0.1, 1], [0.1, 1], [0.1, 1]];
        var data = new EncoderSignalData
        {
            Grid = 3,
            Cls = [[0.05, 0.05, 0.05, 0.05, 0.5, 0.05, 0.05, 0.05, 0.05]],
            Keys = [key],
            Hidden = Enumerable.Range(0, 10).Select(i => new double[] { i, 10 * i }).ToArray(),
            W = [[1, 0], [0, 1]],
        };
        using var scope = NewDisposeScope();
        var result = new VisionZip(2, 2).Reduce(data.Context());
        Assert.That(result.KeptIndices, Is.EqualTo(new long[] { -1, 4, 0, 5 }));
        TensorAssert.Close(result.Features, EncoderSignalData.ToTensor([[0, 0], [5, 50], [4, 40], [14, 140]]), 1e-5, 1e-5, "CLS, dominant, target + mean(assigned)");
    }

    [TestCase(54, 10)]
    [TestCase(108, 20)]
    [TestCase(162, 30)]
    [TestCase(1, 0)]
    [TestCase(1, 7)]
    [TestCase(9, 0)]
    [TestCase(300, 250)]
    public void MatchesTheBruteForceDefinition(int dominant, int contextual)
    {
        var data = EncoderSignalData.Random(24, seed: dominant * 31 + contextual);
        using var scope = NewDisposeScope();
        var result = new VisionZip(dominant, contextual).Reduce(data.Context());
        var (rows, kept) = Reference(data, dominant, contextual);
        Assert.That(result.Features.shape, Is.EqualTo(new long[] { dominant + contextual, 5 }));
        Assert.That(result.KeptIndices, Is.EqualTo(kept));
        TensorAssert.Close(result.Features, EncoderSignalData.ToTensor(rows), 1e-4, 1e-4, $"VisionZip {dominant}+{contextual}");
    }

    [TestCase(64, 54, 10)]
    [TestCase(128, 108, 20)]
    [TestCase(192, 162, 30)]
    [TestCase(1, 1, 0)]
    [TestCase(2, 2, 0)]
    [TestCase(7, 6, 1)]
    public void BudgetPresetsFollowThePublishedSplit(int budget, int dominant, int contextual)
    {
        var zip = VisionZip.ForBudget(budget);
        Assert.That((zip.Dominant, zip.Contextual, zip.Budget), Is.EqualTo((dominant, contextual, budget)));
        var registered = (VisionZip)PruningRegistry.CreatePreLlm("VisionZip", budget);
        Assert.That((registered.Dominant, registered.Contextual), Is.EqualTo((dominant, contextual)));
        Assert.That(registered.Signals.ClsAttentionLayers, Is.EqualTo(new[] { -2 }));
        Assert.That(registered.Signals.KeyLayers, Is.EqualTo(new[] { -2 }));
        Assert.That(registered.Signals.HiddenStates, Is.EqualTo(new[] { -2 }));
    }

    [TestCase(64)]
    [TestCase(128)]
    [TestCase(192)]
    public void EveryBudgetGivesExactlyThatManyRowsWithDistinctPatches(int budget)
    {
        var data = EncoderSignalData.Random(24, seed: budget);
        using var scope = NewDisposeScope();
        var result = VisionZip.ForBudget(budget).Reduce(data.Context());
        Assert.That(result.Features.shape[0], Is.EqualTo(budget));
        Assert.That(result.KeptIndices[0], Is.EqualTo(-1), "CLS first");
        Assert.That(result.KeptIndices.Skip(1), Is.Unique.And.All.InRange(0L, 575L));
        var zip = VisionZip.ForBudget(budget);
        Assert.That(result.KeptIndices.Skip(1).Take(zip.Dominant - 1), Is.Ordered, "dominant patches ascending");
        Assert.That(result.KeptIndices.Skip(zip.Dominant), Is.Ordered, "contextual targets ascending, after the dominant ones");
    }

    [Test]
    public void AFullBudgetKeepsTheFeaturesUnchanged()
    {
        var data = EncoderSignalData.Random(4, seed: 3);
        using var scope = NewDisposeScope();
        var context = data.Context();
        var result = new VisionZip(10, 6).Reduce(context);
        Assert.That(result.KeptIndices, Is.EqualTo(Enumerable.Range(0, 16).Select(i => (long)i)));
        TensorAssert.Close(result.Features, context.Features, 0, 0, "keep-all");
    }

    [Test]
    public void RepeatedCallsGiveIdenticalOutput()
    {
        var data = EncoderSignalData.Random(24, seed: 77);
        using var scope = NewDisposeScope();
        var a = VisionZip.ForBudget(64).Reduce(data.Context());
        var b = VisionZip.ForBudget(64).Reduce(data.Context());
        Assert.That(b.KeptIndices, Is.EqualTo(a.KeptIndices));
        TensorAssert.Close(b.Features, a.Features, 0, 0, "determinism");
    }

    [Test]
    public void BadSplitsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new VisionZip(0, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new VisionZip(5, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => VisionZip.ForBudget(0));
    }
}
