using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.PreLlm;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>CDPruner against a brute-force conditional DPP (explicit determinants in float64) and hand-made cases.</summary>
public class CdPrunerTests
{
    /// <summary>det of the k × k principal submatrix of <paramref name="kernel"/> on <paramref name="set"/>, by Gaussian
    /// elimination with partial pivoting in float64.</summary>
    internal static double Det(double[] kernel, int n, IReadOnlyList<int> set)
    {
        int k = set.Count;
        var m = new double[k, k];
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++) m[a, b] = kernel[set[a] * n + set[b]];
        double det = 1;
        for (int c = 0; c < k; c++)
        {
            int pivot = c;
            for (int r = c + 1; r < k; r++) if (Math.Abs(m[r, c]) > Math.Abs(m[pivot, c])) pivot = r;
            if (m[pivot, c] == 0) return 0;
            if (pivot != c)
            {
                for (int x = 0; x < k; x++) (m[c, x], m[pivot, x]) = (m[pivot, x], m[c, x]);
                det = -det;
            }
            det *= m[c, c];
            for (int r = c + 1; r < k; r++)
            {
                double f = m[r, c] / m[c, c];
                for (int x = c; x < k; x++) m[r, x] -= f * m[c, x];
            }
        }
        return det;
    }

    /// <summary>Brute-force greedy MAP: each step adds the token maximizing det(L[S ∪ {j}]) (first index on ties).</summary>
    internal static List<int> BruteGreedy(double[] kernel, int n, int k)
    {
        var set = new List<int>();
        for (int step = 0; step < k; step++)
        {
            int best = -1;
            double bestDet = double.NegativeInfinity;
            for (int j = 0; j < n; j++)
            {
                if (set.Contains(j)) continue;
                double d = Det(kernel, n, [.. set, j]);
                if (d > bestDet) (best, bestDet) = (j, d);
            }
            set.Add(best);
        }
        return set;
    }

    /// <summary>The whole method in float64 from raw features: cosines, negated relevance, min-max, kernel, brute greedy.</summary>
    internal static long[] Reference(double[][] features, double[] instruction, int k)
    {
        int n = features.Length;
        double Cos(double[] x, double[] y) =>
            x.Zip(y, (p, q) => p * q).Sum() / Math.Sqrt(x.Sum(v => v * v)) / Math.Sqrt(y.Sum(v => v * v));
        var rel = features.Select(f => -Cos(f, instruction)).ToArray();
        double lo = rel.Min(), hi = rel.Max();
        var r = rel.Select(x => (x - lo + 1e-6) / (hi - lo)).ToArray();
        var kernel = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) kernel[i * n + j] = r[i] * Cos(features[i], features[j]) * r[j];
        return BruteGreedy(kernel, n, k).Order().Select(i => (long)i).ToArray();
    }

    static double[][] RandomRows(int rows, int width, Random rng) =>
        Enumerable.Range(0, rows).Select(_ => Enumerable.Range(0, width).Select(_ => rng.NextDouble() * 2 - 1).ToArray()).ToArray();

    static VisionStageContext Context(double[][] features, double[][] instruction) =>
        new(0, EncoderSignalData.ToTensor(features), EncoderSignalData.Random(1, 0).Context().Signals, EncoderSignalData.ToTensor(instruction));

    [Test]
    public void TheIncrementalCholeskyGreedyPicksWhatTheDeterminantsPick()
    {
        var rng = new Random(7);
        for (int trial = 0; trial < 5; trial++)
        {
            var x = RandomRows(12, 16, rng);   // full rank: 12 tokens in 16 dimensions
            var kernel = new double[144];
            for (int i = 0; i < 12; i++)
                for (int j = 0; j < 12; j++) kernel[i * 12 + j] = x[i].Zip(x[j], (p, q) => p * q).Sum();
            Assert.That(CdPruner.GreedyMap(kernel, 12, 7), Is.EqualTo(BruteGreedy(kernel, 12, 7)), $"trial {trial}");
        }
    }

    [TestCase(3, 1)]
    [TestCase(6, 2)]
    [TestCase(9, 3)]
    public void ReduceKeepsWhatTheFloat64ReferenceKeeps(int keep, int seed)
    {
        var rng = new Random(seed);
        var features = RandomRows(16, 24, rng);
        var instruction = RandomRows(3, 24, rng);
        var mean = Enumerable.Range(0, 24).Select(c => instruction.Average(row => row[c])).ToArray();
        using var scope = NewDisposeScope();
        var context = Context(features, instruction);
        var reduced = new CdPruner(keep).Reduce(context);
        Assert.That(reduced.KeptIndices, Is.EqualTo(Reference(features, mean, keep)));
        Assert.That(EncoderSignalData.Rows(reduced.Features), Is.EqualTo(reduced.KeptIndices.Select(i => features[i]).ToArray()).Within(1e-6));
    }

    [Test]
    public void HandCase_DiversityFirstThenTheInstructionDecides()
    {
        // Tokens 0 and 1 point the same way, 2 and 3 are orthogonal to them and to each other.
        double[][] features = [[1, 0, 0], [2, 0, 0], [0, 1, 0], [0, 0, 1]];
        using var scope = NewDisposeScope();
        // Instruction (1, 1, 1): every cosine is 0.577 → r = 1 for all: a plain DPP on the cosines; the first maximum of
        // the diagonal (0) wins, its twin 1 then gains 0, 2 and 3 gain 1: keep 0, 2.
        Assert.That(new CdPruner(2).Reduce(Context(features, [[1, 1, 1]])).KeptIndices, Is.EqualTo(new long[] { 0, 2 }));
        // Instruction (0, 0, 1): cosines 0, 0, 0, 1, negated 0, 0, 0, −1 → r = 1 + 1e−6 for 0..2 and 1e−6 for 3 (the
        // reference's sign: the token most aligned with the instruction is the least "relevant"). Picks 0, then 2 (gain
        // r²); the third pick finds 1 at gain 0 and 3 at (1e−6)² ≤ the floor, so the fill by relevance takes 1.
        Assert.That(new CdPruner(2).Reduce(Context(features, [[0, 0, 1]])).KeptIndices, Is.EqualTo(new long[] { 0, 2 }));
        Assert.That(new CdPruner(3).Reduce(Context(features, [[0, 0, 1]])).KeptIndices, Is.EqualTo(new long[] { 0, 1, 2 }));
        // Without the sign flip token 3 is the most relevant and the only one with a large diagonal: it goes first.
        Assert.That(new CdPruner(2, negateRelevance: false).Reduce(Context(features, [[0, 0, 1]])).KeptIndices, Does.Contain(3L));
    }

    [Test]
    public void RelevanceIsNegatedThenMinMaxNormalized()
    {
        var r = CdPruner.NormalizeRelevance([0.5, 0.2, -0.1]);
        Assert.That(r, Is.EqualTo(new[] { 1e-6 / 0.6, 0.300001 / 0.6, 0.600001 / 0.6 }).Within(1e-12));
        Assert.That(CdPruner.NormalizeRelevance([0.5, 0.2, -0.1], negate: false), Is.EqualTo(new[] { 0.600001 / 0.6, 0.300001 / 0.6, 1e-6 / 0.6 }).Within(1e-12));
        Assert.That(CdPruner.NormalizeRelevance([0.3, 0.3]), Is.EqualTo(new[] { 1.0, 1.0 }), "equal relevances: plain DPP");
    }

    [Test]
    public void AnExhaustedKernelFillsTheBudgetByRelevance()
    {
        // Four parallel tokens: rank 1, so the DPP picks one and every further gain is 0.
        var similarity = Enumerable.Repeat(1.0, 16).ToArray();
        double[] cosine = [0.4, 0.1, 0.3, 0.2];   // negated: −0.4, −0.1, −0.3, −0.2 → r order 1 > 3 > 2 > 0
        Assert.That(CdPruner.Select(similarity, cosine, 4, 3), Is.EqualTo(new long[] { 1, 2, 3 }));
    }

    [TestCase(1)]
    [TestCase(5)]
    [TestCase(16)]
    [TestCase(40)]
    public void BudgetInvariantsAndDeterminism(int keep)
    {
        var rng = new Random(keep);
        var features = RandomRows(16, 8, rng);   // rank 8 < 16: past 8 picks the fill rule runs
        var instruction = RandomRows(2, 8, rng);
        using var scope = NewDisposeScope();
        var first = new CdPruner(keep).Reduce(Context(features, instruction)).KeptIndices;
        var second = new CdPruner(keep).Reduce(Context(features, instruction)).KeptIndices;
        Assert.That(first, Has.Length.EqualTo(Math.Min(keep, 16)));
        Assert.That(first, Is.Ordered.Ascending.And.Unique);
        Assert.That(first, Is.All.InRange(0L, 15L));
        Assert.That(second, Is.EqualTo(first));
    }

    [Test]
    public void WithoutTheInstructionItSaysSo()
    {
        using var scope = NewDisposeScope();
        var context = EncoderSignalData.Random(3, 1).Context();
        var e = Assert.Throws<ArgumentException>(() => new CdPruner(4).Reduce(context));
        Assert.That(e!.Message, Does.Contain("instruction").And.Contain("VisionStageContext.Instruction"));
        Assert.That(new CdPruner(4).Signals.InstructionEmbeddings, Is.True);
    }
}
