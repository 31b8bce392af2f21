using System.Globalization;
using System.Text.Json;
using PioFvlm.Bench.Eval.Runner;
using PioFvlm.Tests.CommandLine;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Eval;

/// <summary>configs/runs/tiny-pope.json: the run is scored by the POPE scorer named in Run:Eval:Benchmark.</summary>
[NonParallelizable]
public class RunnerBenchmarkTests
{
    static string RepoFile(string relative)
    {
        for (var d = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, relative))) return Path.Combine(d.FullName, relative);
        Assert.Fail($"{relative} not found above the test folder");
        return "";
    }

    [Test]
    public void PopeRunReportsMeanF1ComputedFromTheAnswersAndLabels()
    {
        using var dir = new TempDir();
        var (rc, _, stderr) = CliRunner.Run("eval", RepoFile("configs/runs/tiny-pope.json"), "--output", dir.Path);
        Assert.That(rc, Is.EqualTo(0), stderr);

        // Labels in file order; POPE pairs answers with them by position (eval_pope.py).
        var labels = File.ReadLines(RepoFile("configs/data/tiny-smoke/pope/coco_pope_random.json"))
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("label").GetString() == "yes").ToList();
        var csv = File.ReadAllLines(Path.Combine(dir.Path, "report.csv"));
        foreach (var png in new[] { EvalPlots.ScoreFile, EvalPlots.SpeedupFile })
        {
            var bytes = File.ReadAllBytes(Path.Combine(dir.Path, png));
            Assert.That(bytes.Take(8), Is.EqualTo(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), $"{png} is a PNG");
            Assert.That(bytes.Length, Is.GreaterThan(5000), $"{png} holds a drawn plot");
        }
        foreach (var method in new[] { "KeepAll", "PioFvlm", "FastV", "VisionZip" })
        {
            var answers = AnswerFile.Read(Path.Combine(dir.Path, method, "answers.jsonl"));
            Assert.That(answers, Has.Count.EqualTo(labels.Count), method);
            // Independent F1: "no" if the first sentence holds the word no/No/not, else "yes".
            var yes = answers.Select(a => !a.Text.Split('.')[0].Replace(",", "").Split(' ').Any(w => w is "no" or "No" or "not")).ToList();
            int tp = yes.Zip(labels).Count(p => p.First && p.Second), fp = yes.Zip(labels).Count(p => p.First && !p.Second);
            int fn = yes.Zip(labels).Count(p => !p.First && p.Second);
            double precision = tp + fp == 0 ? 0 : (double)tp / (tp + fp), recall = tp + fn == 0 ? 0 : (double)tp / (tp + fn);
            double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            var row = csv.Single(l => l.StartsWith(method + ",", StringComparison.Ordinal)).Split(',');
            Assert.That(double.Parse(row[3], CultureInfo.InvariantCulture), Is.EqualTo(100 * f1).Within(1e-3), $"{method} mean F1");
        }
    }

    [TestCase("PioFvlm-64", "PioFvlm")]
    [TestCase("FastV@128", "FastV")]
    [TestCase("VisionZip_11.1%", "VisionZip")]
    [TestCase("KeepAll", "KeepAll")]
    public void PlotSeriesGroupRunsOfOneMethodAtSeveralBudgets(string method, string family) =>
        Assert.That(EvalPlots.Family(method), Is.EqualTo(family));

    [TestCase("PioFvlm-64", "64")]
    [TestCase("VisionZip_11.1%", "11.1%")]
    [TestCase("KeepAll", "")]
    public void BudgetColumnComesFromTheMethodKey(string method, string budget) =>
        Assert.That(EvalPlots.Budget(method), Is.EqualTo(budget));

    [Test]
    public void UnknownBenchmarkOrMissingAnnotationsFailWithTheKeyPath()
    {
        var e = Assert.Throws<RunConfigException>(() => RunConfigLoader.Load(RepoFile("configs/runs/tiny-pope.json"), ["--Run:Eval:Benchmark=popee"]))!;
        Assert.That(e.Message, Does.StartWith("Run:Eval:Benchmark: 'popee' is not one of"));
        e = Assert.Throws<RunConfigException>(() => RunConfigLoader.Load(RepoFile("configs/runs/tiny-smoke.json"), ["--Run:Eval:Benchmark=pope"]))!;
        Assert.That(e.Message, Does.StartWith("Run:Eval:Annotations: required"));
    }
}

/// <summary>Malformed question lines stop the run naming file and line, or are skipped and reported with SkipMalformed.</summary>
[NonParallelizable]
public class RunnerMalformedQuestionTests
{
    static string Smoke()
    {
        for (var d = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "configs/runs/tiny-smoke.json"))) return d.FullName;
        Assert.Fail("repository root not found");
        return "";
    }

    [Test]
    public void EscapingImagePathIsFatalByDefaultAndSkippedOnRequest()
    {
        string root = Smoke();
        using var dir = new TempDir();
        string questions = dir.File("q.jsonl");
        var good = File.ReadLines(Path.Combine(root, "configs/data/tiny-smoke/questions.jsonl")).Take(2).ToList();
        File.WriteAllLines(questions, [good[0], """{"question_id": "evil", "image": "../../etc/passwd", "text": "Hi?"}""", good[1]]);
        string[] common = ["eval", Path.Combine(root, "configs/runs/tiny-smoke.json"), $"--Run:Eval:Dataset={questions}",
                           "--Run:Methods:PioFvlm=", "--Run:Methods:Random=", "--Run:Eval:MaxNewTokens=1"];

        var (rc, _, stderr) = CliRunner.Run([.. common, "--output", dir.File("out1")]);
        Assert.That(rc, Is.EqualTo(1));
        Assert.That(stderr, Does.Contain("q.jsonl:2:"));

        (rc, _, stderr) = CliRunner.Run([.. common, "--output", dir.File("out2"), "--Run:Eval:SkipMalformed=true"]);
        Assert.That(rc, Is.EqualTo(0), stderr);
        Assert.That(stderr, Does.Contain("skipped: ").And.Contain("q.jsonl:2:"));
        var answered = AnswerFile.Read(Path.Combine(dir.File("out2"), "KeepAll", "answers.jsonl")).Select(a => a.QuestionId);
        Assert.That(answered, Is.EquivalentTo(new[] { "q1", "q2" }));
    }
}

public class ShippedRunConfigTests
{
    [Test]
    public void The7bPopeRunConfigLoadsWithEveryMethodAtThe64TokenSetting()
    {
        string root = "";
        for (var d = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "configs/runs/llava15-7b-pope.json"))) { root = d.FullName; break; }
        Assert.That(root, Is.Not.Empty, "configs/runs/llava15-7b-pope.json not found");
        // The plans' "Schedule" presets are the model family's: point the model at a LLaVA-1.5 config.json (no weights needed).
        string model = Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "configs", "llava-1.5-7b-hf");
        var run = RunConfigLoader.Load(Path.Combine(root, "configs/runs/llava15-7b-pope.json"), [$"--Run:Model:Path={model}"], new System.Collections.Hashtable());
        Assert.That(run.Methods.Select(m => m.Name), Is.SupersetOf(new[] { "KeepAll", "PioFvlm-64", "FastV-64", "PDrop-64", "SparseVLM-64",
            "DART-64", "VisionZip-64", "HoloV-64", "SCOPE-64", "DivPrune-64" }));
        Assert.That(run.Eval.Benchmark, Is.EqualTo("pope"));
    }
}
