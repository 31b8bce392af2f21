using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.PreLlm;
using PioFvlm.Core.Pruning.Selectors;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>DivPrune's greedy max-min diversity selection against a hand-derived case and a brute-force oracle.</summary>
public class DivPruneTests
{
    static Tensor Rows(double[][] rows) =>
        tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, rows[0].Length]);

    static double[][] RandomRows(int n, int width, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, width).Select(_ => random.NextDouble() * 2 - 1).ToArray()).ToArray();
    }

    /// <summary>
    /// Unit directions at 0°, 10°, 90°, 180°, 185° in the first two coordinates (rows scaled differently: cosine
    /// ignores length). Nearest-neighbour distances are 1−cos10°, 1−cos10°, 1−cos80°, 1−cos5°, 1−cos5°, so 90° goes
    /// first; then 185° (1−cos95° > 1 from 90°); then 0° (1 from 90°, beats 10° at 1−cos80° and 180° at 1−cos5°);
    /// then 10° (1−cos10° to 0°) over 180° (1−cos5° to 185°).
    /// </summary>
    [Test]
    public void HandDerivedAnglesArePickedFarthestFirst()
    {
        double[] angles = [0, 10, 90, 180, 185];
        double[] scale = [1, 3, 0.5, 2, 7];
        var rows = angles.Select((a, i) => new[] { scale[i] * Math.Cos(a * Math.PI / 180), scale[i] * Math.Sin(a * Math.PI / 180), 0, 0 }).ToArray();
        using var features = Rows(rows);
        Assert.That(MaxMinDiversity.GreedyOrder(features, 4), Is.EqualTo(new long[] { 2, 4, 0, 1 }));
        Assert.That(MaxMinDiversity.Select(features, 4), Is.EqualTo(new long[] { 0, 1, 2, 4 }));
        Assert.That(DivPruneReference.Greedy(rows, 4).Order, Is.EqualTo(new[] { 2, 4, 0, 1 }), "the oracle agrees with the hand derivation");
    }

    [TestCase(1)]
    [TestCase(5)]
    [TestCase(12)]
    [TestCase(29)]
    [TestCase(30)]
    [TestCase(45)]
    public void MatchesTheBruteForceOracleAtEveryBudget(int keep)
    {
        var rows = RandomRows(30, 16, seed: 100 + keep);
        var (order, margin) = DivPruneReference.Greedy(rows, keep);
        Assert.That(margin, Is.GreaterThan(1e-5), "the random case has no float32 near-tie");
        using var features = Rows(rows);
        var greedy = MaxMinDiversity.GreedyOrder(features, keep);
        Assert.That(greedy, Is.EqualTo(order.Select(i => (long)i).ToArray()));
        var kept = MaxMinDiversity.Select(features, keep);
        Assert.That(kept, Has.Length.EqualTo(Math.Min(keep, 30)));
        Assert.That(kept, Is.Ordered.Ascending);
        Assert.That(kept.Distinct().Count(), Is.EqualTo(kept.Length));
    }

    [Test]
    public void DeterministicAndIndependentOfTheInputDtype()
    {
        var rows = RandomRows(40, 8, seed: 7);
        using var f64 = Rows(rows);
        using var f32 = f64.to(ScalarType.Float32);
        var first = MaxMinDiversity.Select(f64, 13);
        Assert.That(MaxMinDiversity.Select(f64, 13), Is.EqualTo(first));
        Assert.That(MaxMinDiversity.Select(f32, 13), Is.EqualTo(first));
    }

    [Test]
    public void SelectorKeepsExactlyTheBudgetAndIgnoresScores()
    {
        var rows = RandomRows(20, 6, seed: 3);
        using var features = Rows(rows);
        using var scores = arange(20, ScalarType.Float32);
        var expected = DivPruneReference.Greedy(rows, 7).Order.Order().Select(i => (long)i).ToArray();
        Assert.That(new DivPruneSelector().Select(features, scores, 7), Is.EqualTo(expected));
        Assert.That(new DivPruneSelector().Select(features, scores.neg(), 0), Is.Empty);
    }

    [Test]
    public void RejectsBadInputsNamingThem()
    {
        using var flat = zeros(5);
        Assert.That(() => MaxMinDiversity.Select(flat, 2), Throws.ArgumentException.With.Message.Contains("[5]"));
        using var nan = full(3, 2, double.NaN);
        Assert.That(() => MaxMinDiversity.Select(nan, 2), Throws.ArgumentException.With.Message.Contains("NaN"));
        Assert.That(() => new DivPruneStage(0), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void RegistryAndConfigsCreateTheStage()
    {
        Assert.That(PruningRegistry.Get("DivPrune").Kind, Is.EqualTo(PruningMethodKind.PreLlm));
        Assert.That(PruningRegistry.Get("DivPruneLlm").Kind, Is.EqualTo(PruningMethodKind.IntraLlm));
        var plan = PruningConfig.Parse("""{ "Stages": { "pre": { "Method": "DivPrune", "Keep": 128 } } }""", "test");
        Assert.That(((DivPruneStage)plan.PreLlm!).Budget, Is.EqualTo(128));
        Assert.That(plan.Intra, Is.Null);
        var top = PruningConfig.Parse("""{ "Method": "DivPrune", "PreLlmKeep": 192 }""", "test");
        Assert.That(((DivPruneStage)top.PreLlm!).Budget, Is.EqualTo(192));
        var intra = PruningConfig.Parse("""{ "Method": "DivPruneLlm", "Stages": { "s1": { "AfterLayer": 2, "Keep": 64 } } }""", "test");
        Assert.That(((ScoreThenSelectPruner)intra.Intra!).Selector, Is.InstanceOf<DivPruneSelector>());
    }
}
