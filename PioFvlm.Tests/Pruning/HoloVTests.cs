using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.PreLlm;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>HoloV against hand-derived allocations and a brute-force reading of specs/baselines.md §9.3.</summary>
public class HoloVTests
{
    /// <summary>§9.3 in doubles, by the definition: the output's token indices (−1 = zero padding).</summary>
    internal static long[] Reference(double[][] f, double[] a, int budget, int crops, double alpha = 0.09)
    {
        int n = f.Length;
        var chunks = new List<int[]>();
        for (int c = 0, start = 0; c < crops; c++)
        {
            int size = n / crops + (c < n % crops ? 1 : 0);
            chunks.Add(Enumerable.Range(start, size).ToArray());
            start += size;
        }
        var unit = f.Select(r => { double norm = Math.Sqrt(r.Sum(v => v * v)) + 1e-6; return r.Select(v => v / norm).ToArray(); }).ToArray();
        var score = chunks.Select(chunk =>
        {
            int m = chunk.Length;
            if (m == 1) return a[chunk[0]];
            double S(int i, int j) => i == j ? 0 : unit[chunk[i]].Zip(unit[chunk[j]], (p, q) => p * q).Sum();
            var mu = Enumerable.Range(0, m).Select(i => Enumerable.Range(0, m).Sum(j => S(i, j)) / (m - 1)).ToArray();
            var variance = Enumerable.Range(0, m).Select(i => Enumerable.Range(0, m).Sum(j => Math.Pow(S(i, j) - mu[i], 2)) / (m - 1)).ToArray();
            var big = chunk.Select(t => 1000 * a[t]).ToArray();
            double gamma = big.Average(Math.Abs) / (variance.Average(Math.Abs) + 1e-6);
            return Enumerable.Range(0, m).Average(i => big[i] + alpha * gamma * variance[i]);
        }).ToArray();
        double total = score.Sum() + 1e-6;
        var w = score.Select(s => s / total).ToArray();
        var q = w.Select(x => (int)Math.Floor(x * budget)).ToArray();
        int left = budget - q.Sum();
        var byWeight = Enumerable.Range(0, crops).ToList();
        byWeight.Sort((x, y) => w[y] != w[x] ? w[y].CompareTo(w[x]) : x.CompareTo(y));
        foreach (int c in byWeight.Take(left)) q[c]++;
        var output = new List<long>();
        for (int c = 0; c < crops; c++)
        {
            if (q[c] <= 0) continue;
            if (q[c] >= chunks[c].Length) { output.AddRange(chunks[c].Select(t => (long)t)); continue; }
            var byAttention = chunks[c].ToList();
            byAttention.Sort((x, y) => a[y] != a[x] ? a[y].CompareTo(a[x]) : x.CompareTo(y));
            output.AddRange(byAttention.Take(q[c]).Select(t => (long)t));
        }
        while (output.Count < budget) output.Add(-1);
        return output.Take(budget).ToArray();
    }

    static EncoderSignalData Hand() => new()
    {
        // Crop 0 = patches 0, 1 (identical features: var 1 each), crop 1 = patches 2, 3 (orthogonal: var 0).
        Grid = 2,
        Cls = [[0.1, 0.2, 0.3, 0.4]],
        Keys = [Enumerable.Range(0, 5).Select(_ => new double[] { 1 }).ToArray()],
        Hidden = [[9, 9], [1, 0], [1, 0], [1, 0], [0, 1]],
        W = [[1, 0], [0, 1]],
    };

    [Test]
    public void HandDerivedQuotasPaddingAndOrder()
    {
        // Crop scores: crop 0 has A = 100, 200, γ ≈ 150, h = A + 0.09·150 = 113.5, 213.5 → 163.5; crop 1: h = A → 350.
        // w ≈ 0.318, 0.682.
        using var scope = NewDisposeScope();
        var data = Hand();
        // K = 1: floors 0, 0; the one left goes to crop 1 → its top patch by attention, 3.
        Assert.That(new HoloV(1, crops: 2).Reduce(data.Context()).KeptIndices, Is.EqualTo(new long[] { 3 }));
        // K = 2: floors 0, 1; + 1 → crop 1 gets 2 ≥ its size → the whole crop in raster order.
        Assert.That(new HoloV(2, crops: 2).Reduce(data.Context()).KeptIndices, Is.EqualTo(new long[] { 2, 3 }));
        // K = 3: floors 0, 2; + 1 → crop 1 gets 3 > 2 → its 2 tokens and one zero row (overflow is not redistributed).
        var padded = new HoloV(3, crops: 2).Reduce(data.Context());
        Assert.That(padded.KeptIndices, Is.EqualTo(new long[] { 2, 3, -1 }));
        TensorAssert.Close(padded.Features, EncoderSignalData.ToTensor([[1, 0], [0, 1], [0, 0]]), 0, 0, "crop 1 then a zero row");
    }

    [TestCase(64, 16)]
    [TestCase(128, 8)]
    [TestCase(192, 5)]
    [TestCase(576, 1)]
    [TestCase(100, 10)]
    public void CropRuleGivesThePublishedCounts(int budget, int crops) =>
        Assert.That(HoloV.CropsFor(576, budget), Is.EqualTo(crops));

    [TestCase(64, null)]
    [TestCase(128, null)]
    [TestCase(192, null)]
    [TestCase(64, 16)]
    [TestCase(40, 7)]
    [TestCase(10, 24)]
    public void MatchesTheBruteForceDefinition(int budget, int? crops)
    {
        var data = EncoderSignalData.Random(24, seed: budget + 7 * (crops ?? 0), hidden: 8, text: 6);
        using var scope = NewDisposeScope();
        var context = data.Context();
        var result = new HoloV(budget, crops).Reduce(context);
        var a = Enumerable.Range(0, 576).Select(j => data.Cls.Average(h => h[j])).ToArray();
        var expected = Reference(data.Features, a, budget, crops ?? HoloV.CropsFor(576, budget));
        Assert.That(result.KeptIndices, Is.EqualTo(expected));
        Assert.That(result.Features.shape, Is.EqualTo(new long[] { budget, 6 }));
        var real = expected.Where(i => i >= 0).ToArray();
        TensorAssert.Close(result.Features.narrow(0, 0, real.Length), context.Features.index_select(0, tensor(real)), 0, 0, "kept rows");
    }

    [TestCase(64)]
    [TestCase(128)]
    [TestCase(192)]
    public void BudgetInvariantsAndWithinCropOrder(int budget)
    {
        var data = EncoderSignalData.Random(24, seed: 300 + budget);
        using var scope = NewDisposeScope();
        var holo = (HoloV)PruningRegistry.CreatePreLlm("HoloV", budget);
        Assert.That(holo.Signals.ClsAttentionLayers, Is.EqualTo(new[] { -2 }));
        var result = holo.Reduce(data.Context());
        Assert.That(result.KeptIndices, Has.Length.EqualTo(budget));
        var real = result.KeptIndices.Where(i => i >= 0).ToArray();
        Assert.That(real, Is.Unique);
        Assert.That(result.KeptIndices.SkipWhile(i => i >= 0), Is.All.EqualTo(-1), "padding only at the end");
        // Crop order: a crop's tokens never precede an earlier crop's.
        int crops = HoloV.CropsFor(576, budget), size = 576 / crops, rem = 576 % crops;
        int CropOf(long t) => t < rem * (size + 1) ? (int)(t / (size + 1)) : rem + (int)((t - rem * (size + 1)) / size);
        Assert.That(real.Select(CropOf), Is.Ordered);
    }

    [Test]
    public void FullBudgetAndDeterminism()
    {
        var data = EncoderSignalData.Random(24, seed: 12);
        using var scope = NewDisposeScope();
        var context = data.Context();
        var all = new HoloV(576).Reduce(context);
        TensorAssert.Close(all.Features, context.Features, 0, 0, "keep-all");
        var a = new HoloV(64).Reduce(data.Context());
        var b = new HoloV(64).Reduce(data.Context());
        Assert.That(b.KeptIndices, Is.EqualTo(a.KeptIndices));
        TensorAssert.Close(b.Features, a.Features, 0, 0, "determinism");
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new HoloV(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new HoloV(8, crops: 0));
    }
}
