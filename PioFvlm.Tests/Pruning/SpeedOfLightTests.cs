using PioFvlm.Bench.Macro;

namespace PioFvlm.Tests.Pruning;

/// <summary>Cost-curve interpolation and speed-of-light ratios; every expected value is worked out by hand here.</summary>
public sealed class SpeedOfLightTests
{
    // 10 → 100 ms, 20 → 150 ms, 40 → 190 ms: slopes 5 ms/token then 2 ms/token.
    static readonly CostCurve Bent = new(new Dictionary<int, double> { [40] = 190, [10] = 100, [20] = 150 });

    [TestCase(10, 100.0)]
    [TestCase(20, 150.0)]
    [TestCase(40, 190.0)]
    [TestCase(15, 125.0)]     // halfway along the first segment
    [TestCase(30, 170.0)]     // halfway along the second
    [TestCase(5, 75.0)]       // below the first point: first segment's slope
    [TestCase(50, 210.0)]     // above the last point: last segment's slope
    [TestCase(0, 50.0)]
    public void At_InterpolatesPiecewiseLinearly(double n, double expected) =>
        Assert.That(Bent.At(n), Is.EqualTo(expected).Within(1e-9));

    [Test]
    public void At_OnePointCurve_IsProportional() =>
        Assert.That(new CostCurve(new Dictionary<int, double> { [10] = 50 }).At(4), Is.EqualTo(20.0).Within(1e-12));

    [Test]
    public void Curve_RejectsNonPositiveCosts() =>
        Assert.Throws<ArgumentException>(() => _ = new CostCurve(new Dictionary<int, double> { [10] = 0 }));

    [Test]
    public void Json_RoundTrips()
    {
        using var dir = new PioFvlm.Tests.TestSupport.TempDir();
        string path = Path.Combine(dir.Path, "curve.json");
        File.WriteAllText(path, CostCurve.ToJson(new Dictionary<int, double> { [40] = 190, [10] = 100, [20] = 150 }));
        var back = CostCurve.Load(path);
        Assert.That(back.Tokens, Is.EqualTo(new[] { 10, 20, 40 }));
        Assert.That(back.Milliseconds, Is.EqualTo(new[] { 100.0, 150.0, 190.0 }));
    }

    [Test]
    public void Of_HandMadeSchedule_SumsCostsPerLayer()
    {
        // unpruned 4 × cost(40) = 760; pruned cost(40) + cost(20) + cost(15) + cost(10) = 190 + 150 + 125 + 100 = 565.
        var sol = SpeedOfLight.Of("hand", Bent, [40, 40, 40, 40], [40, 20, 15, 10]);
        Assert.That(sol.UnprunedMs, Is.EqualTo(760.0).Within(1e-9));
        Assert.That(sol.PrunedMs, Is.EqualTo(565.0).Within(1e-9));
        Assert.That(sol.Ratio, Is.EqualTo(760.0 / 565.0).Within(1e-12));
        Assert.That(sol.TokenLayerRatio, Is.EqualTo(160.0 / 85.0).Within(1e-12));
    }

    [Test]
    public void Of_LayerCountMismatch_Throws() =>
        Assert.Throws<ArgumentException>(() => SpeedOfLight.Of("bad", Bent, [40, 40], [40]));

    [Test]
    public void ForPreset_Pio11OnLlava15_MatchesHandSums()
    {
        // cost(n) = 50 + n ms (affine through 22 → 72 and 1000 → 1050). pio-11 with 60 text tokens sees
        // 1×636, 9×152, 5×114, 17×82 positions (spec §5.2: 576, 92, 54, 22 visual).
        var affine = new CostCurve(new Dictionary<int, double> { [22] = 72, [1000] = 1050 });
        var sol = SpeedOfLight.ForPreset("pio-11", affine);
        double unpruned = 32 * (50 + 636);
        double pruned = (50 + 636) + 9 * (50 + 152) + 5 * (50 + 114) + 17 * (50 + 82);
        Assert.That(sol.Ratio, Is.EqualTo(unpruned / pruned).Within(1e-9));
        Assert.That(sol.TokenLayerRatio, Is.EqualTo(32.0 * 636 / (636 + 9 * 152 + 5 * 114 + 17 * 82)).Within(1e-12));
    }

    [Test]
    public void ForPreset_PioVe22_LinearCurve_EqualsTokenLayerRatio()
    {
        // pio-ve-22: 16 layers of 192 + 60, 16 of 64 + 60; a curve through the origin makes both ratios agree.
        var linear = new CostCurve(new Dictionary<int, double> { [100] = 300 });
        var sol = SpeedOfLight.ForPreset("pio-ve-22", linear);
        double expected = 32.0 * 636 / (16 * 252 + 16 * 124);
        Assert.That(sol.TokenLayerRatio, Is.EqualTo(expected).Within(1e-12));
        Assert.That(sol.Ratio, Is.EqualTo(expected).Within(1e-9));
    }
}
