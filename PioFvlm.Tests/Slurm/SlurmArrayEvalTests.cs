using System.Diagnostics;
using System.Text.RegularExpressions;
using PioFvlm.Bench.Eval;
using PioFvlm.Bench.Eval.Runner;
using PioFvlm.Bench.Eval.Scoring;
using PioFvlm.Tests.CommandLine;
using PioFvlm.Tests.Pruning;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Slurm;

/// <summary>
/// scripts/slurm on a real single-node Slurm (scripts/slurm/setup-local.sh, run by .ci/run as root): the tiny POPE
/// eval as a 4-task array plus the dependent merge job. While it runs, task 1 is requeued by the scheduler after its
/// first answer; it must resume (nothing lost, nothing answered twice). The merged answers, report and POPE metrics
/// must equal an unsharded in-process run of the same config. No scheduler = a failure that says why, never a pass.
/// Category Slurm: scripts/test.sh leaves it out by default (it needs root and the daemons); .ci/run includes it.
/// </summary>
[NonParallelizable, Category("Slurm")]
public class SlurmArrayEvalTests
{
    const int Tasks = 4;
    const string MaxTokens = "--Run:Eval:MaxNewTokens=24";   // long enough answers that task 1 can be caught mid-run
    static readonly string[] Methods = ["KeepAll", "FastV", "PioFvlm", "VisionZip"];
    static readonly TimeSpan Limit = TimeSpan.FromMinutes(8);

    [Test]
    public void ArrayJob_WithARequeuedTask_MergesToTheUnshardedResult()
    {
        string root = FastVTests.RepoRoot();
        string config = Path.Combine(root, "configs", "runs", "tiny-pope.json");
        string cli = Path.Combine(TestContext.CurrentContext.TestDirectory, "pio-fvlm.dll");
        Assert.That(File.Exists(cli), Is.True, $"{cli} (the CLI is built beside the tests)");
        RequireScheduler(root);

        using var dir = new TempDir();
        string reference = dir.File("unsharded"), sharded = dir.File("sharded");
        var (rc, _, stderr) = CliRunner.Run("eval", config, MaxTokens, "--output", reference);
        Assert.That(rc, Is.EqualTo(0), stderr);

        var clock = Stopwatch.StartNew();
        var submit = ProcessRun.Run(Path.Combine(root, "scripts", "slurm", "submit.sh"), [config, sharded, Tasks.ToString(), MaxTokens], root,
            TimeSpan.FromMinutes(1), new Dictionary<string, string> { ["PIO_FVLM_CLI"] = $"dotnet {cli}" });
        Assert.That(submit.ExitCode, Is.EqualTo(0), submit.Describe("submit.sh"));
        var ids = submit.Stdout.Trim().Split(' ');
        Assert.That(ids, Has.Length.EqualTo(2), submit.Stdout);
        string arrayJob = ids[0], mergeJob = ids[1];
        try
        {
            // task 1 answers 2 questions x 4 methods = 8 lines; requeue it once the first is written
            var shard1 = Methods.Select(m => Path.Combine(sharded, m, $"answers.shard-1-of-{Tasks}.jsonl")).ToList();
            int atRequeue = 0;
            while (clock.Elapsed < Limit)
            {
                atRequeue = shard1.Sum(LineCount);
                if (atRequeue >= 1) break;
                Thread.Sleep(50);
            }
            Assert.That(atRequeue, Is.InRange(1, 7), "task 1 must be caught part-way (1..7 of 8 answers written)");
            var requeue = ProcessRun.Run("scontrol", ["requeue", $"{arrayJob}_1"], root, TimeSpan.FromSeconds(30));
            Assert.That(requeue.ExitCode, Is.EqualTo(0), requeue.Describe("scontrol requeue"));
            TestContext.Out.WriteLine($"requeued task 1 after {atRequeue} of 8 answers, {clock.Elapsed.TotalSeconds:F1} s after submission");

            while (clock.Elapsed < Limit && Queued(root, arrayJob, mergeJob)) Thread.Sleep(500);
            Assert.That(Queued(root, arrayJob, mergeJob), Is.False, $"jobs still queued after {Limit.TotalMinutes} min:\n{Logs(sharded)}");
        }
        finally
        {
            ProcessRun.Run("scancel", [arrayJob, mergeJob], root, TimeSpan.FromSeconds(30));
        }
        TestContext.Out.WriteLine($"slurm wall time (submit to merged report): {clock.Elapsed.TotalSeconds:F1} s");
        string logs = Logs(sharded);
        Assert.That(JobState(root, mergeJob), Is.EqualTo("COMPLETED"), logs);
        Assert.That(File.ReadAllText(Path.Combine(sharded, "slurm", $"eval-{arrayJob}_1.out")), Does.Contain("(restart 1)"), "task 1 ran again after the requeue");

        // nothing lost or doubled: merge saw all 6 answers of every method in the shard files themselves
        string mergeLog = File.ReadAllText(Path.Combine(sharded, "slurm", $"merge-{mergeJob}.out"));
        foreach (var m in Methods)
            Assert.That(mergeLog, Does.Contain($"6 answers from {Tasks} files -> {Path.Combine(sharded, m, "answers.jsonl")}"), logs);

        var scorer = ScorerRegistry.Create("pope");
        var inputs = new ScoringInputs(Path.Combine(root, "configs", "data", "tiny-smoke", "pope"),
                                       Path.Combine(root, "configs", "data", "tiny-smoke", "pope-questions.jsonl"));
        foreach (var m in Methods)
        {
            var expected = AnswerFile.Read(Path.Combine(reference, m, "answers.jsonl"));
            var merged = AnswerFile.Read(Path.Combine(sharded, m, "answers.jsonl"));
            Assert.That(merged.Select(a => a.QuestionId), Is.Unique, m);
            Assert.That(merged.ToDictionary(a => a.QuestionId, a => (a.Prompt, a.Text)),
                        Is.EquivalentTo(expected.ToDictionary(a => a.QuestionId, a => (a.Prompt, a.Text))), $"{m}: merged answers = unsharded answers");
            Assert.That(merged.Select(a => a.QuestionId), Is.Not.EqualTo(expected.Select(a => a.QuestionId)),
                        "the merged file is in shard order, not question order (what the POPE pairing must survive)");
            Assert.That(scorer.Score(merged, inputs).Metrics, Is.EqualTo(scorer.Score(expected, inputs).Metrics), $"{m}: POPE metrics");
        }
        Assert.That(DeterministicColumns(Path.Combine(sharded, "report.csv")), Is.EqualTo(DeterministicColumns(Path.Combine(reference, "report.csv"))));
    }

    /// <summary>Starts or checks the local scheduler through the project's script; any failure fails the test with its output.</summary>
    static void RequireScheduler(string root)
    {
        var setup = ProcessRun.Run(Path.Combine(root, "scripts", "slurm", "setup-local.sh"), [], root, TimeSpan.FromMinutes(10));
        if (setup.ExitCode != 0)
            Assert.Fail("Slurm could not be started (this test needs a scheduler; it never passes without one).\n" + setup.Describe("scripts/slurm/setup-local.sh"));
    }

    static bool Queued(string root, string arrayJob, string mergeJob)
    {
        var q = ProcessRun.Run("squeue", ["-h", "-j", $"{arrayJob},{mergeJob}", "-o", "%i %T"], root, TimeSpan.FromSeconds(30));
        Assert.That(q.ExitCode, Is.EqualTo(0), q.Describe("squeue"));
        return q.Stdout.Trim().Length > 0;
    }

    static string JobState(string root, string job)
    {
        var s = ProcessRun.Run("scontrol", ["show", "job", job], root, TimeSpan.FromSeconds(30));
        return Regex.Match(s.Stdout, @"JobState=(\S+)").Groups[1].Value;
    }

    static string Logs(string output)
    {
        string folder = Path.Combine(output, "slurm");
        if (!Directory.Exists(folder)) return "(no job logs)";
        return string.Join("\n", Directory.GetFiles(folder).Order(StringComparer.Ordinal).Select(f => $"=== {Path.GetFileName(f)}\n{File.ReadAllText(f)}"));
    }

    /// <summary>report.csv without the timing columns (prefill_ms, total_ms), which differ from run to run.</summary>
    static List<string> DeterministicColumns(string csv)
    {
        var lines = File.ReadAllLines(csv);
        var header = lines[0].Split(',');
        var keep = Enumerable.Range(0, header.Length).Where(i => header[i] is not ("prefill_ms" or "total_ms")).ToList();
        return lines.Select(l => string.Join(",", keep.Select(i => l.Split(',')[i]))).ToList();
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
