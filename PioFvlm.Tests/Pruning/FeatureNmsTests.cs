using PioFvlm.Core.Pruning.Selectors;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

public sealed class FeatureNmsTests
{
    /// <summary>
    /// Reference NMS written from spec §3 with the full V × V cosine matrix in float64 (the oracle): LINQ's stable
    /// OrderByDescending(score).ThenBy(index), strict pass, fill-up pass, ascending result.
    /// </summary>
    static long[] BruteForceNms(double[][] features, float[] scores, int keep, double tau, bool nms = true)
    {
        int v = features.Length;
        var unit = features.Select(f =>
        {
            double norm = Math.Max(Math.Sqrt(f.Sum(x => x * x)), 1e-12);
            return f.Select(x => x / norm).ToArray();
        }).ToArray();
        var cos = new double[v, v];
        for (int i = 0; i < v; i++)
            for (int j = 0; j < v; j++)
                cos[i, j] = unit[i].Zip(unit[j], (a, b) => a * b).Sum();
        var order = Enumerable.Range(0, v).OrderByDescending(i => scores[i]).ThenBy(i => i).ToList();
        int k = Math.Min(keep, v);
        var kept = new List<int>();
        var suppressed = new bool[v];
        if (nms)
        {
            foreach (int i in order)
            {
                if (kept.Count == k) break;
                if (suppressed[i]) continue;
                kept.Add(i);
                for (int j = 0; j < v; j++) if (cos[i, j] >= tau) suppressed[j] = true;
            }
        }
        foreach (int i in order)
        {
            if (kept.Count == k) break;
            if (!kept.Contains(i)) kept.Add(i);
        }
        return kept.Select(i => (long)i).OrderBy(i => i).ToArray();
    }

    static double Cosine(double[] a, double[] b) =>
        a.Zip(b, (x, y) => x * y).Sum() / Math.Sqrt(a.Sum(x => x * x) * b.Sum(x => x * x));

    /// <summary>
    /// Spec §3 figure: tokens are numbered 1..8 in the figure; token t is row t−1 here. Saliency order
    /// [3,1,7,6,8,4,5,2]; neighbour pairs (3,1), (3,8), (7,5); K = 4 → tokens [3,4,6,7] = rows [2,3,5,6].
    /// </summary>
    [Test]
    public void FigureExample_KeepsTokens3467()
    {
        using var scope = NewDisposeScope();
        double[] E(int token) { var e = new double[8]; e[token - 1] = 1; return e; }
        double[] Add(double[] a, double[] b, double w) => a.Zip(b, (x, y) => x + w * y).ToArray();
        var byToken = new Dictionary<int, double[]>
        {
            [3] = E(3), [1] = Add(E(3), E(1), 0.6), [8] = Add(E(3), E(8), 0.6),   // cos(3,1) = cos(3,8) = 0.857, cos(1,8) = 0.735
            [7] = E(7), [5] = Add(E(7), E(5), 0.6),                               // cos(7,5) = 0.857
            [2] = E(2), [4] = E(4), [6] = E(6),
        };
        var features = Enumerable.Range(1, 8).Select(t => byToken[t]).ToArray();
        // The fixture itself: exactly the three figure pairs are neighbours.
        var pairs = new List<(int, int)>();
        for (int a = 1; a <= 8; a++)
            for (int b = a + 1; b <= 8; b++)
                if (Cosine(features[a - 1], features[b - 1]) >= 0.8) pairs.Add((a, b));
        Assert.That(pairs, Is.EquivalentTo(new[] { (1, 3), (3, 8), (5, 7) }));

        int[] saliencyOrder = [3, 1, 7, 6, 8, 4, 5, 2];
        var scores = new float[8];
        for (int rank = 0; rank < 8; rank++) scores[saliencyOrder[rank] - 1] = 8 - rank;

        var kept = new FeatureNms(0.8).Select(tensor(features.SelectMany(f => f).ToArray()).reshape(8, 8), tensor(scores), 4);
        Assert.That(kept.Select(i => i + 1), Is.EqualTo(new long[] { 3, 4, 6, 7 }), "figure tokens (1-based)");
        Assert.That(new TopKSelector().Select(zeros(8, 8), tensor(scores), 4).Select(i => i + 1),
            Is.EqualTo(new long[] { 1, 3, 6, 7 }), "without NMS the plain top-4 is 3,1,7,6");
    }

    [Test]
    public void AllSimilar_FallsBackToSaliencyOrder()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var features = randn(1, 16).expand(10, 16) + 0.01 * randn(10, 16);
        float[] scores = [0.1f, 0.9f, 0.3f, 0.8f, 0.2f, 0.7f, 0.05f, 0.6f, 0.4f, 0.5f];
        // Pass 1 keeps only token 1 (highest); pass 2 adds 3, 5, 7 by saliency.
        var kept = new FeatureNms().Select(features, tensor(scores), 4);
        Assert.That(kept, Is.EqualTo(new long[] { 1, 3, 5, 7 }));
    }

    [Test]
    public void Ties_GoToTheLowerIndex()
    {
        using var scope = NewDisposeScope();
        var features = eye(6);
        var kept = new FeatureNms().Select(features, tensor(new float[] { 1, 2, 2, 1, 2, 1 }), 4);
        Assert.That(kept, Is.EqualTo(new long[] { 0, 1, 2, 4 }), "scores 2 at 1, 2, 4 first, then the first score-1 index, 0");
    }

    [TestCase(0, new long[0])]
    [TestCase(5, new long[] { 0, 1, 2, 3, 4 })]
    [TestCase(9, new long[] { 0, 1, 2, 3, 4 })]
    public void BudgetIsClampedToTheCount(int keep, long[] expected)
    {
        using var scope = NewDisposeScope();
        var scores = tensor(new float[] { 5, 4, 3, 2, 1 });
        Assert.That(new FeatureNms().Select(ones(5, 3), scores, keep), Is.EqualTo(expected));
        Assert.That(new TopKSelector().Select(ones(5, 3), scores, keep), Is.EqualTo(expected));
    }

    [Test]
    public void BadInputs_Throw()
    {
        using var scope = NewDisposeScope();
        var nms = new FeatureNms();
        Assert.That(() => nms.Select(ones(3, 2), tensor(new float[] { 1, float.NaN, 0 }), 2),
            Throws.ArgumentException.With.Message.Contains("score 1 of 3 is NaN"));
        Assert.That(() => nms.Select(ones(3, 2), tensor(new float[] { 1, 2 }), 2),
            Throws.ArgumentException.With.Message.Contains("scores must be [3]"));
        Assert.That(() => nms.Select(ones(3), tensor(new float[] { 1, 2, 3 }), 2),
            Throws.ArgumentException.With.Message.Contains("features must be [V, H]"));
        Assert.That(() => nms.Select(ones(3, 2), tensor(new float[] { 1, 2, 3 }), -1), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new FeatureNms(1.5), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    /// <summary>
    /// Randomised property test against the brute-force NMS: clustered features (so suppression is common), exact
    /// duplicates, zero rows, tied integer scores, budgets 0..V+2, three thresholds, three feature dtypes, and
    /// row-block sizes 1, 3 and 16. Cases with a cosine within 1e-4 of the threshold are redrawn: there float32 and
    /// float64 may legitimately disagree about a neighbour. Selections must be identical and exactly min(K, V) long.
    /// </summary>
    [Test]
    public void RandomCases_MatchBruteForce()
    {
        var rng = new Random(20260515);
        ScalarType[] dtypes = [ScalarType.Float32, ScalarType.Float64, ScalarType.BFloat16];
        double[] taus = [0.8, 0.5, 0.95];
        int[] blocks = [1, 3, 16];
        int redrawn = 0, suppressedSomewhere = 0;
        for (int c = 0; c < 400; c++)
        {
            using var scope = NewDisposeScope();
            double tau = taus[c % 3];
            var dtype = dtypes[c / 3 % 3];
            int v = rng.Next(1, 41), d = rng.Next(2, 7), keep = rng.Next(0, v + 3);
            Tensor features;
            double[][] stored;
            while (true)
            {
                features = RandomFeatures(rng, v, d).to(dtype);
                using var f64 = features.to(ScalarType.Float64).contiguous();
                var flat = f64.data<double>().ToArray();
                stored = Enumerable.Range(0, v).Select(i => flat.Skip(i * d).Take(d).ToArray()).ToArray();
                if (!NearThreshold(stored, tau)) break;
                redrawn++;
            }
            var scores = Enumerable.Range(0, v).Select(_ => rng.Next(2) == 0 ? (float)rng.Next(4) : (float)rng.NextDouble()).ToArray();

            var expected = BruteForceNms(stored, scores, keep, tau);
            var nms = new FeatureNms(tau, blocks[c / 9 % 3]);
            var actual = nms.Select(features, tensor(scores), keep, out int rowsComputed);
            if (nms.RowBlock == 1)
                Assert.That(rowsComputed, Is.LessThanOrEqualTo(Math.Min(keep, v)), $"case {c}: one row per pass-1 pick, never V × V");
            Assert.That(actual, Is.EqualTo(expected), $"case {c}: V={v}, d={d}, K={keep}, tau={tau}, {dtype}");
            Assert.That(actual, Has.Length.EqualTo(Math.Min(keep, v)), $"case {c}: budget");
            var topK = BruteForceNms(stored, scores, keep, tau, nms: false);
            Assert.That(new TopKSelector().Select(features, tensor(scores), keep), Is.EqualTo(topK), $"case {c}: top-K");
            if (!expected.SequenceEqual(topK)) suppressedSomewhere++;
        }
        Assert.That(suppressedSomewhere, Is.GreaterThan(100), "the cases must exercise suppression, not only top-K");
        Assert.That(redrawn, Is.LessThan(200), "too many cases near the threshold");
    }

    static Tensor RandomFeatures(Random rng, int v, int d)
    {
        int clusters = rng.Next(1, 6);
        double spread = new[] { 0.0, 0.1, 0.4, 1.0 }[rng.Next(4)];
        var centers = Enumerable.Range(0, clusters).Select(_ => Enumerable.Range(0, d).Select(_ => Gaussian(rng)).ToArray()).ToArray();
        var rows = new double[v][];
        for (int i = 0; i < v; i++)
        {
            int kind = rng.Next(10);
            if (kind == 0 && i > 0) rows[i] = (double[])rows[rng.Next(i)].Clone();          // exact duplicate
            else if (kind == 1) rows[i] = new double[d];                                      // zero row: cosine 0 with all
            else
            {
                var center = centers[rng.Next(clusters)];
                rows[i] = center.Select(x => x + spread * Gaussian(rng)).ToArray();
            }
        }
        return tensor(rows.SelectMany(r => r).ToArray()).reshape(v, d);
    }

    static bool NearThreshold(double[][] f, double tau)
    {
        for (int i = 0; i < f.Length; i++)
            for (int j = 0; j < f.Length; j++)
            {
                double ni = Math.Sqrt(f[i].Sum(x => x * x)), nj = Math.Sqrt(f[j].Sum(x => x * x));
                if (ni == 0 || nj == 0) continue;
                double cos = f[i].Zip(f[j], (a, b) => a * b).Sum() / (ni * nj);
                if (Math.Abs(cos - tau) < 1e-4) return true;
            }
        return false;
    }

    static double Gaussian(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
