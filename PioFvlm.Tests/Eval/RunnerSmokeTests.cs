using System.Text.Json.Nodes;
using NUnit.Framework;
using PioFvlm.Bench;
using PioFvlm.Bench.Eval.Runner;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Eval;

/// <summary>configs/runs/tiny-smoke.json end to end through the command line, as CI runs it.</summary>
[NonParallelizable]   // redirects Console
public class RunnerSmokeTests
{
    /// <summary>Paper FLOPs of one tiny-llava layer (d = 32, m = 88) for n visual tokens: 4nd² + 2n²d + 2ndm, by hand.</summary>
    static long F(long n) => 4 * n * 32 * 32 + 2 * n * n * 32 + 2 * n * 32 * 88;

    [Test]
    public void TinySmoke_ThroughCli_WritesAnswersReportsConfigAndVersions()
    {
        using var dir = new TempDir();
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        int rc;
        try
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
            rc = Cli.Run(["eval", RunnerTestKit.SmokeConfig, "--output", dir.Path]);
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
        Assert.That(rc, Is.EqualTo(0), stderr.ToString());

        string[] methods = ["KeepAll", "PioFvlm", "Random"];
        foreach (var m in methods)
        {
            var answers = AnswerFile.Read(Path.Combine(dir.Path, m, "answers.jsonl"));
            Assert.That(answers.Select(a => a.QuestionId), Is.EqualTo(RunnerTestKit.AllIds), m);
            // 2 decoder layers, 49 visual tokens; the pruned methods keep 12 after layer 1.
            long flops = m == "KeepAll" ? 2 * F(49) : F(49) + F(12);
            Assert.That(answers.Select(a => a.Metadata["paper_flops"]), Is.All.EqualTo(flops.ToString()), m);
            Assert.That(answers.Select(a => a.Metadata["visual_tokens"]), Is.All.EqualTo(m == "KeepAll" ? "49" : "30.5"), m);
        }

        var csv = File.ReadAllLines(Path.Combine(dir.Path, "report.csv"));
        Assert.That(csv[0], Does.StartWith("method,budget,answers,score,retention_%,visual_tokens"));
        Assert.That(csv.Skip(1).Select(l => l.Split(',')[0]), Is.EqualTo(methods));
        Assert.That(csv.Skip(1).Select(l => l.Split(',')[2]), Is.All.EqualTo("6"));
        string md = File.ReadAllText(Path.Combine(dir.Path, "report.md"));
        foreach (var m in methods) Assert.That(md, Does.Contain($"| {m} |  | 6 |"));
        Assert.That(stdout.ToString(), Does.Contain("| PioFvlm |  | 6 |"));

        var resolved = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "resolved-config.json")))!;
        Assert.That(resolved["Run"]!["Output"]!["Directory"]!.GetValue<string>(), Is.EqualTo(Path.GetFullPath(dir.Path)));
        Assert.That(resolved["Run"]!["Model"]!["DType"]!.GetValue<string>(), Is.EqualTo("Float32"), "from configs/base.json");
        Assert.That(resolved["Run"]!["Methods"]!["Random"]!["config_hash"]!.GetValue<string>(),
                    Is.EqualTo(AnswerFile.ReadHash(Path.Combine(dir.Path, "Random", "answers.jsonl"))));
        var versions = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "versions.json")))!;
        Assert.That(versions["torchsharp"]!.GetValue<string>(), Does.StartWith("0.107"));
        Assert.That(versions["torch_threads"]!.GetValue<int>(), Is.GreaterThan(0));
        Assert.That(stderr.ToString(), Does.Contain("eval ").And.Contain("/18").And.Contain("running match "), "plain progress lines with the running score when redirected");
        Assert.That(Directory.GetFiles(dir.Path, "*.tmp-*", SearchOption.AllDirectories), Is.Empty, "atomic writes leave no temp files");
    }

    [Test]
    public void MergeVerb_JoinsShardFiles()
    {
        using var dir = new TempDir();
        var s0 = RunnerTestKit.Run(dir.Path, "--shard", "0/2");
        var s1 = RunnerTestKit.Run(dir.Path, "--shard", "1/2");
        string merged = dir.File("KeepAll/answers.jsonl");
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        int rc;
        try
        {
            Console.SetOut(TextWriter.Null);
            Console.SetError(TextWriter.Null);
            rc = Cli.Run(["merge", "--out", merged, s0.AnswerFiles["KeepAll"], s1.AnswerFiles["KeepAll"]]);
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
        Assert.That(rc, Is.EqualTo(0));
        Assert.That(RunnerTestKit.Ids(merged).Order(), Is.EqualTo(RunnerTestKit.AllIds));
        // The merged file is what an unsharded run of the same config resumes from: nothing left to answer for KeepAll.
        var again = RunnerTestKit.Run(dir.Path);
        Assert.That(RunnerTestKit.Ids(again.AnswerFiles["KeepAll"]).Length, Is.EqualTo(6));
    }
}
