using System.Globalization;
using System.Text.Json.Nodes;
using PioFvlm.Bench.Eval.Runner;
using PioFvlm.Tests.CommandLine;
using PioFvlm.Tests.Models;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Eval;

/// <summary>Every registered method through the evaluation harness and through <c>generate</c>, on the bundled tiny model.</summary>
[NonParallelizable]
public class RunnerAllMethodsTests
{
    static string Root => PioFvlm.Tests.Pruning.FastVTests.RepoRoot();
    static string Config => Path.Combine(Root, "configs", "runs", "tiny-all-methods.json");

    /// <summary>Average visual tokens over the 2 decoder layers, from each method's own budget rule (49 visual tokens in).</summary>
    static readonly Dictionary<string, double> ExpectedAverage = new()
    {
        ["KeepAll"] = 49, ["PioFvlm-12"] = (49 + 12) / 2.0, ["FastV-12"] = (49 + 12) / 2.0, ["PDrop-12"] = (49 + 12) / 2.0,
        ["Random-12"] = (49 + 12) / 2.0, ["DART-12"] = (49 + (4 + 8 * (8 / 8))) / 2.0,
        ["VisionZip-12"] = 12, ["HoloV-12"] = 12, ["SCOPE-12"] = 12, ["DivPrune-12"] = 12, ["CDPruner-12"] = 12, ["VisPruner-12"] = 12, ["HiPrune-12"] = 12,
        ["Downsample-12"] = 9, // 7 x 7 pooled to round(7 sqrt(12/49)) = 3 per side
        ["VisionZipThenPio-12"] = (24 + 12) / 2.0,
    };

    [Test]
    public void EveryMethodAnswersEveryQuestionWithItsBudget()
    {
        using var dir = new TempDir();
        var (rc, _, stderr) = CliRunner.Run("eval", Config, "--output", dir.Path);
        Assert.That(rc, Is.EqualTo(0), stderr);
        var methods = JsonNode.Parse(File.ReadAllText(Config))!["Run"]!["Methods"]!.AsObject().Select(kv => kv.Key).Append("KeepAll");
        foreach (var method in methods)
        {
            var answers = AnswerFile.Read(Path.Combine(dir.Path, method, "answers.jsonl"));
            Assert.That(answers.Select(a => a.QuestionId), Is.EquivalentTo(new[] { "q1", "q2", "q3", "q4", "q5", "q6" }), method);
            double average = answers.Average(a => double.Parse(a.Metadata["visual_tokens"], CultureInfo.InvariantCulture));
            if (ExpectedAverage.TryGetValue(method, out double expected))
                Assert.That(average, Is.EqualTo(expected).Within(1e-9), $"{method}: average visual tokens per layer");
            else
                Assert.That(average, Is.GreaterThanOrEqualTo((49 + 12) / 2.0).And.LessThan(49), $"{method}: keeps 12 plus recycled tokens");
        }
    }

    static IEnumerable<TestCaseData> MethodConfigs() =>
        JsonNode.Parse(File.ReadAllText(Config))!["Run"]!["Methods"]!.AsObject()
            .Select(kv => new TestCaseData(kv.Key, kv.Value!.ToJsonString()).SetName($"Generate_{kv.Key.Replace('-', '_')}"));

    [TestCaseSource(nameof(MethodConfigs))]
    public void GenerateRunsTheMethodFromItsPruningConfig(string method, string json)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("pruning.json"), json);
        string png = LlavaTestModels.WritePng(dir.File("img.png"));
        var (rc, stdout, stderr) = CliRunner.Run("generate", "--model", Path.Combine(Root, "configs", "models", "tiny-llava"), "--image", png,
            "--prompt", "Is there a square?", "--max-new-tokens", "2", "--pruning", dir.File("pruning.json"), "--json");
        Assert.That(rc, Is.EqualTo(0), $"{method}: {stderr}");
        var stats = JsonNode.Parse(stdout)!["stats"]!;
        Assert.That(stats["tokens"]!.GetValue<int>(), Is.EqualTo(2), method);
        Assert.That(stats["visual_tokens_out"]!.GetValue<long>(), Is.LessThan(49), $"{method} pruned something");
    }
}
