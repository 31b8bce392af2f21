using System.Diagnostics;
using PioFvlm.Bench.Eval.Runner;
using PioFvlm.Tests.CommandLine;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Eval;

/// <summary>A real kill: the eval process is killed mid-run, the same command resumes, every question is answered once.</summary>
[NonParallelizable]
public class RunnerKillTests
{
    [Test]
    public void KilledRunResumesWithEachQuestionExactlyOnce()
    {
        string root = PioFvlm.Tests.Pruning.FastVTests.RepoRoot();
        string config = Path.Combine(root, "configs", "runs", "tiny-smoke.json");
        string cli = Path.Combine(TestContext.CurrentContext.TestDirectory, "pio-fvlm.dll");
        Assert.That(File.Exists(cli), Is.True, $"{cli} (the CLI is built beside the tests)");
        using var dir = new TempDir();
        string[] args = ["eval", config, "--Run:Eval:MaxNewTokens=24", "--output", dir.Path];
        string answers = Path.Combine(dir.Path, "KeepAll", "answers.jsonl");

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
        start.ArgumentList.Add(cli);
        foreach (var a in args) start.ArgumentList.Add(a);
        using (var process = Process.Start(start)!)
        {
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var clock = Stopwatch.StartNew();
            while (LineCount(answers) < 2 && !process.HasExited && clock.Elapsed < TimeSpan.FromSeconds(60)) Thread.Sleep(20);
            if (process.HasExited) Assert.Inconclusive("the run finished before it could be killed (machine too fast for this test)");
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        int before = LineCount(answers);
        Assert.That(before, Is.GreaterThanOrEqualTo(2).And.LessThan(6 * 3), "killed part-way");

        var (rc, _, stderr) = CliRunner.Run(args);
        Assert.That(rc, Is.EqualTo(0), stderr);
        foreach (var method in new[] { "KeepAll", "PioFvlm", "Random" })
        {
            var ids = AnswerFile.Read(Path.Combine(dir.Path, method, "answers.jsonl")).Select(a => a.QuestionId).ToList();
            Assert.That(ids, Is.EquivalentTo(new[] { "q1", "q2", "q3", "q4", "q5", "q6" }), $"{method}: each question exactly once");
        }
    }

    static int LineCount(string path)
    {
        if (!File.Exists(path)) return 0;
        try
        {
            using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var r = new StreamReader(s);
            int n = 0;
            while (r.ReadLine() != null) n++;
            return n;
        }
        catch (IOException) { return 0; }
    }
}
