using System.Reflection;
using BenchmarkDotNet.Attributes;

namespace PioFvlm.Tests.CommandLine;

/// <summary><c>pio-fvlm bench --list flat</c> names the benchmarks by category; nothing is run.</summary>
public class BenchCommandTests
{
    const string Micro = "PioFvlm.Bench.Micro.";

    static readonly Dictionary<string, string[]> ExpectedByCategory = new()
    {
        ["nms"] = ["NmsSelectionBenchmark.FeatureNmsSelect", "NmsSelectionBenchmark.FullMatrixSelect"],
        ["probe"] = ["SaliencyProbeBenchmark.LayerForward", "SaliencyProbeBenchmark.ProbeFull", "SaliencyProbeBenchmark.ProbeCheap"],
        ["attention"] = ["AttentionRowsBenchmark.LastRow", "AttentionRowsBenchmark.FullMap"],
        ["io"] = ["SafetensorsReadBenchmark.LoadAll"],
        ["vision"] = ["ClipPreprocessBenchmark.Preprocess"],
    };

    static string[] Listed(string category)
    {
        var (rc, stdout, stderr) = CliRunner.Run("bench", "--list", "flat", "--anyCategories", category);
        Assert.That(rc, Is.EqualTo(0), stderr);
        return stdout.Split('\n', StringSplitOptions.TrimEntries).Where(l => l.StartsWith(Micro, StringComparison.Ordinal))
                     .Select(l => l[Micro.Length..]).ToArray();
    }

    [Test]
    public void MicroCategoryListsEveryMicroBenchmark()
    {
        Assert.That(Listed("micro"), Is.EquivalentTo(ExpectedByCategory.Values.SelectMany(v => v)));
    }

    [Test]
    public void EachSuiteCategoryListsExactlyItsBenchmarks()
    {
        foreach (var (category, expected) in ExpectedByCategory)
            Assert.That(Listed(category), Is.EquivalentTo(expected), category);
    }

    [TestCase("macro", "PioFvlm.Bench.Macro.LlavaPrefillBenchmark.Prefill", "PioFvlm.Bench.Macro.LlavaPrefillBenchmark.Decode")]
    [TestCase("cost-curve", "PioFvlm.Bench.Macro.LayerCostBenchmark.Layer")]
    public void MacroSuitesAreSelectableByCategory(string category, params string[] expected)
    {
        var (rc, stdout, stderr) = CliRunner.Run("bench", "--list", "flat", "--anyCategories", category);
        Assert.That(rc, Is.EqualTo(0), stderr);
        var listed = stdout.Split('\n', StringSplitOptions.TrimEntries).Where(l => l.StartsWith("PioFvlm.Bench.", StringComparison.Ordinal));
        Assert.That(listed, Is.EquivalentTo(expected), category);
    }

    [Test]
    public void EveryBenchmarkClassHasACategory()
    {
        var uncategorised = typeof(PioFvlm.Bench.Cli).Assembly.GetTypes()
            .Where(t => t.GetMethods().Any(m => m.GetCustomAttribute<BenchmarkAttribute>() != null))
            .Where(t => t.GetCustomAttribute<BenchmarkCategoryAttribute>() == null)
            .Select(t => t.Name);
        Assert.That(uncategorised, Is.Empty);
    }

    [Test]
    public void EveryBenchmarkMethodInMicroIsListed()
    {
        // Independent of the switcher: reflection over the Bench assembly finds the [Benchmark] methods.
        var methods = typeof(PioFvlm.Bench.Cli).Assembly.GetTypes()
            .Where(t => t.Namespace == "PioFvlm.Bench.Micro")
            .SelectMany(t => t.GetMethods().Where(m => m.GetCustomAttribute<BenchmarkAttribute>() != null).Select(m => $"{t.Name}.{m.Name}"))
            .ToArray();
        Assert.That(methods, Is.EquivalentTo(ExpectedByCategory.Values.SelectMany(v => v)));
    }
}
