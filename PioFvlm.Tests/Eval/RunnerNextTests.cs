using System.Globalization;
using System.Text.Json.Nodes;
using PioFvlm.Bench.Eval.Runner;
using PioFvlm.Tests.CommandLine;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Eval;

/// <summary><c>eval configs/runs/tiny-next.json</c>: the tiny LLaVA-NeXT (written by <c>make-tiny --family llava-next</c>)
/// through the CLI harness with intra-LLM, pre-LLM and base-view-scoped methods.</summary>
[NonParallelizable]
public class RunnerNextTests
{
    static string Root => PioFvlm.Tests.Pruning.FastVTests.RepoRoot();
    static string Config => Path.Combine(Root, "configs", "runs", "tiny-next.json");

    // Every tiny-smoke image is 32x32. On the tiny pinpoints [[28,56],[56,28],[56,56]] (h, w) the 56x56 canvas keeps the
    // most pixels (scale 1.75, effective min(56², 32²) = 1024 against 28² = 784 for the others), so the image is 2x2 tiles
    // of 7x7 patches, square like the image (nothing unpadded): 49 base + 14·14 tile tokens = 245 visual tokens, plus
    // 14 newlines that are not visual tokens. "visual_tokens" is the average over the 2 decoder layers.
    const double Visual = 49 + 14 * 14;

    static readonly Dictionary<string, double> ExpectedAverage = new()
    {
        ["KeepAll"] = Visual,
        ["PioFvlm-12"] = (Visual + 12) / 2,
        ["FastV-12"] = (Visual + 12) / 2,
        ["Random-25pc"] = (Visual + Math.Floor(0.25 * Visual)) / 2,
        ["PioFvlm-BaseView-12"] = (49 + 12) / 2.0, // only the base view is visual under Scope BaseViewOnly
    };

    [Test]
    public void EveryMethodAnswersEveryQuestionOnTheTinyNext()
    {
        using var dir = new TempDir();
        string model = Path.Combine(dir.Path, "model"), output = Path.Combine(dir.Path, "out");
        var made = CliRunner.Run("make-tiny", "--family", "llava-next", "--out", model);
        Assert.That(made.ExitCode, Is.EqualTo(0), made.Stderr);
        var (rc, _, stderr) = CliRunner.Run("eval", Config, "--Run:Model:Path=" + model, "--output", output);
        Assert.That(rc, Is.EqualTo(0), stderr);

        var methods = JsonNode.Parse(File.ReadAllText(Config))!["Run"]!["Methods"]!.AsObject().Select(kv => kv.Key).Append("KeepAll").ToList();
        Assert.That(methods, Has.Count.EqualTo(6));
        foreach (var method in methods)
        {
            var answers = AnswerFile.Read(Path.Combine(output, method, "answers.jsonl"));
            Assert.That(answers.Select(a => a.QuestionId), Is.EquivalentTo(new[] { "q1", "q2", "q3", "q4", "q5", "q6" }), method);
            var perQuestion = answers.Select(a => double.Parse(a.Metadata["visual_tokens"], CultureInfo.InvariantCulture)).ToList();
            if (ExpectedAverage.TryGetValue(method, out double expected))
                Assert.That(perQuestion, Is.All.EqualTo(expected).Within(1e-9), $"{method}: average visual tokens per layer");
            else
                Assert.That(perQuestion, Is.All.GreaterThan(0).And.LessThan(Visual / 2), $"{method}: a quarter of the tokens before the LLM");
        }
        string report = Directory.GetFiles(output, "*.md", SearchOption.TopDirectoryOnly).Single();
        Assert.That(File.ReadAllText(report), Does.Contain("PioFvlm-BaseView-12").And.Contain("VisionZip-25pc"));
    }
}
