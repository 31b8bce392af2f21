using PioFvlm.Core.Pruning.PreLlm;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>VisPruner against a literal float64 re-statement of its rounds and a hand-worked case.</summary>
public class VisPrunerTests
{
    /// <summary>The method from its description: head-mean attention, stable descending order, ⌊B/2⌋ important, then
    /// rounds that split the residual into even/odd positions and drop the ≤ 8 even ones most similar to an odd one.</summary>
    internal static long[] Reference(EncoderSignalData data, int budget)
    {
        int n = data.Patches;
        var attention = Enumerable.Range(0, n).Select(j => data.Cls.Average(h => h[j])).ToArray();
        var patches = data.Hidden.Skip(1).ToArray();
        double Cos(int i, int j) =>
            patches[i].Zip(patches[j], (p, q) => p * q).Sum() / Math.Sqrt(patches[i].Sum(v => v * v) * patches[j].Sum(v => v * v));
        var order = Enumerable.Range(0, n).OrderByDescending(j => attention[j]).ToList();
        int important = budget / 2, diverse = budget - important;
        var kept = order.Take(important).ToList();
        var residual = order.Skip(important).ToList();
        while (residual.Count > diverse)
        {
            var even = new List<int>();
            var odd = new List<int>();
            for (int p = 0; p < residual.Count; p++) (p % 2 == 0 ? even : odd).Add(residual[p]);
            int drop = Math.Min(Math.Min(8, residual.Count - diverse), even.Count);
            var ranked = even.Select(i => (Token: i, Score: odd.Max(j => Cos(i, j)))).OrderByDescending(t => t.Score).ToList();
            residual = ranked.Skip(drop).Select(t => t.Token).Concat(odd).ToList();
        }
        return kept.Concat(residual).Order().Select(i => (long)i).ToArray();
    }

    [TestCase(5, 8, 1)]
    [TestCase(6, 16, 2)]
    [TestCase(6, 30, 3)]
    [TestCase(7, 12, 4)]
    public void ReduceKeepsWhatTheReferenceKeeps(int grid, int budget, int seed)
    {
        var data = EncoderSignalData.Random(grid, seed);
        using var scope = NewDisposeScope();
        var reduced = new VisPruner(budget).Reduce(data.Context());
        Assert.That(reduced.KeptIndices, Is.EqualTo(Reference(data, budget)));
        Assert.That(reduced.KeptIndices, Has.Length.EqualTo(budget).And.Unique.And.Ordered.Ascending);
        Assert.That(EncoderSignalData.Rows(reduced.Features), Is.EqualTo(reduced.KeptIndices.Select(i => data.Features[i]).ToArray()).Within(1e-5));
    }

    [Test]
    public void HandCase_TwoRoundsOfMatching()
    {
        // Attention 8 − i puts the tokens in index order. Budget 4 → important {0, 1}; residual [2..7] must shrink to 2.
        // Round 1: even [2, 4, 6], odd [3, 5, 7], drop min(8, 4, 3) = 3: every even goes → [3, 5, 7].
        // Round 2: even [3, 7], odd [5], drop 1: cos(3, 5) = 0.9 beats cos(7, 5) = 0.1, so 3 goes → [7, 5].
        int n = 8;
        var similarity = new float[n * n];
        for (int i = 0; i < n; i++) similarity[i * n + i] = 1;
        void Set(int i, int j, float v) { similarity[i * n + j] = v; similarity[j * n + i] = v; }
        Set(3, 5, 0.9f);
        Set(7, 5, 0.1f);
        var attention = Enumerable.Range(0, n).Select(i => (float)(8 - i)).ToArray();
        Assert.That(VisPruner.Select(attention, similarity, n, 4, 2), Is.EqualTo(new long[] { 0, 1, 5, 7 }));
    }

    [Test]
    public void PresetsSplitTheBudgetInHalves()
    {
        Assert.That(new[] { 64, 128, 192 }.Select(b => new VisPruner(b).ImportantCount), Is.EqualTo(new[] { 32, 64, 96 }));
        Assert.That(new VisPruner(64, 0.75).ImportantCount, Is.EqualTo(48), "the README's MME setting: 48 important + 16 diverse");
        Assert.That(new VisPruner(64).Signals.ClsAttentionLayers, Is.EqualTo(new[] { -2 }));
    }

    [Test]
    public void DeterministicAndAFullBudgetKeepsEverything()
    {
        var data = EncoderSignalData.Random(6, 9);
        using var scope = NewDisposeScope();
        Assert.That(new VisPruner(10).Reduce(data.Context()).KeptIndices, Is.EqualTo(new VisPruner(10).Reduce(data.Context()).KeptIndices));
        Assert.That(new VisPruner(36).Reduce(data.Context()).KeptIndices, Is.EqualTo(Enumerable.Range(0, 36).Select(i => (long)i)));
    }
}
