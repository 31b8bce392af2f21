using System.Globalization;
using PioFvlm.Tests.CommandLine;
using PioFvlm.Tests.Pruning;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Demo;

/// <summary>The main job end to end on the shipped model, on a few generated questions.</summary>
[NonParallelizable]
public class DemoCommandTests
{
    [Test]
    public void DemoAnswersWithEveryMethodAndWritesTheTable()
    {
        using var dir = new TempDir();
        string config = Path.Combine(FastVTests.RepoRoot(), "configs", "demo.json");
        var (rc, stdout, stderr) = CliRunner.Run("demo", config, "--count", "24",
            $"--Run:Output:Directory={dir.File("out")}", $"--Run:Eval:Dataset={dir.File("data/questions.jsonl")}");
        Assert.That(rc, Is.EqualTo(0), stderr);
        string report = File.ReadAllText(dir.File("out/demo-report.md"));
        var rows = report.Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal)).ToList();
        string[] families = ["PioFvlm", "Random", "Oracle", "FastV", "DART", "VisionZip"];
        foreach (var family in families)
            foreach (var budget in new[] { "33.3", "22.2", "11.1" })
                Assert.That(rows.Any(r => r.StartsWith($"| {family}-{budget} | {budget}% |", StringComparison.Ordinal)), $"{family}-{budget} row in\n{report}");
        Assert.That(rows.Any(r => r.StartsWith("| KeepAll, image blanked |", StringComparison.Ordinal)), "blank-image control row");
        Assert.That(stdout, Does.Contain("demo-report.md"));
        Assert.That(File.Exists(dir.File("out/score-vs-tokens.png")));

        double Score(string method) => double.Parse(rows.First(r => r.StartsWith($"| {method} |", StringComparison.Ordinal)).Split('|')[3], CultureInfo.InvariantCulture);
        Assert.That(Score("KeepAll"), Is.InRange(0, 100));
        // The main table comes first (the recall table repeats the method names). Recall at the last layer (column 8): all present unpruned; the Oracle at 21 of 64 tokens holds every relevant
        // patch (a question is about at most 5 shapes, each on at most 4 patches).
        string Recall(string method) => rows.First(r => r.StartsWith($"| {method} |", StringComparison.Ordinal)).Split('|')[8].Trim();
        Assert.That(Recall("KeepAll"), Is.EqualTo("100.0"));
        Assert.That(Recall("Oracle-33.3"), Is.EqualTo("100.0"));
        Assert.That(double.Parse(Recall("Random-11.1"), CultureInfo.InvariantCulture), Is.InRange(0, 100));
        Assert.That(Recall("KeepAll, image blanked"), Is.EqualTo("–"));
        Assert.That(report, Does.Contain("## Relevant-token recall"));
        Assert.That(report, Does.Contain("| PioFvlm-11.1 | 11.1% |"));
        Assert.That(File.Exists(dir.File("out/accuracy-vs-recall.png")));
        Assert.That(File.ReadLines(dir.File("data/questions.jsonl")).First(), Does.Contain("\"relevant_patches\":["));
        Assert.That(Score("KeepAll, image blanked"), Is.InRange(0, 100));
    }

    [Test]
    public void TheShippedModelReproducesItsRecordedValidationAccuracy()
    {
        // The committed weights, loaded through the ordinary checkpoint path, score on the validation questions what
        // the training run logged at its last evaluation (training-log.csv, written by the trainer).
        string model = Path.Combine(FastVTests.RepoRoot(), "configs", "models", "shapes-vlm");
        var last = File.ReadAllLines(Path.Combine(model, "training-log.csv")).Last(l => l.Length > 0).Split(',');
        var header = File.ReadAllLines(Path.Combine(model, "training-log.csv"))[0].Split(',');
        double logged = double.Parse(last[Array.IndexOf(header, "val_all")], CultureInfo.InvariantCulture);
        using var pipeline = PioFvlm.Models.Llava.LlavaPipeline.FromPretrained(model);
        var generator = new PioFvlm.Bench.Demo.ShapesGenerator(new PioFvlm.Bench.Demo.ShapesGeneratorOptions());
        var defaults = new PioFvlm.Bench.Demo.DemoTrainingOptions { OutputDirectory = "" };
        var validation = generator.Samples(defaults.ValidationDataSeed, defaults.ValidationCount).ToList();
        var accuracy = new PioFvlm.Bench.Demo.DemoBatchBuilder(pipeline, generator).Accuracy(validation);
        Assert.That(accuracy["all"], Is.EqualTo(logged).Within(1.5 / validation.Count), "one question of slack for fp32 summation order");
    }

    [Test]
    public void AConfigWithoutTheDemoSectionIsRefusedByName()
    {
        using var dir = new TempDir();
        string config = dir.File("demo.json");
        File.WriteAllText(config, """{ "Run": { "Model": { "Path": "m" }, "Eval": { "Dataset": "d/questions.jsonl", "Benchmark": "shapes", "Annotations": "a" }, "Output": { "Directory": "o" } } }""");
        var (rc, _, stderr) = CliRunner.Run("demo", config);
        Assert.That(rc, Is.EqualTo(1));
        Assert.That(stderr, Does.Contain("no Demo section"));
    }
}
