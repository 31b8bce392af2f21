using NUnit.Framework;
using PioFvlm.Bench.Eval.Runner;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Eval;

/// <summary>Kill-and-resume, config-hash refusal, shards and merge, on the tiny model.</summary>
public class RunnerResumeTests
{
    [Test]
    public void LimitedRunThenFullRun_AnswersEachQuestionOnce_KeepingTheFirstAnswers()
    {
        using var dir = new TempDir();
        var first = RunnerTestKit.Run(dir.Path, "--limit", "3");
        Assert.That(first.AnswerFiles.Keys, Is.EqualTo(new[] { "KeepAll", "Random" }));
        var before = first.AnswerFiles.ToDictionary(f => f.Key, f => File.ReadAllText(f.Value));
        foreach (var f in first.AnswerFiles.Values) Assert.That(RunnerTestKit.Ids(f), Is.EqualTo(new[] { "q1", "q2", "q3" }));

        var second = RunnerTestKit.Run(dir.Path);
        foreach (var (method, file) in second.AnswerFiles)
        {
            Assert.That(RunnerTestKit.Ids(file), Is.EqualTo(RunnerTestKit.AllIds), method);
            Assert.That(File.ReadAllText(file), Does.StartWith(before[method]), $"{method}: the first three lines are not rewritten");
        }
        Assert.That(second.Rows.Select(r => r.Answers), Is.All.EqualTo(6));
    }

    [Test]
    public void TornLastLine_IsCutAndThatQuestionAnsweredAgain()
    {
        using var dir = new TempDir();
        var first = RunnerTestKit.Run(dir.Path, "--limit", "2");
        string keepAll = first.AnswerFiles["KeepAll"];
        File.AppendAllText(keepAll, "{\"question_id\":\"q3\",\"prompt\":\"Is th");   // killed mid-write
        RunnerTestKit.Run(dir.Path, "--limit", "4");
        Assert.That(RunnerTestKit.Ids(keepAll), Is.EqualTo(new[] { "q1", "q2", "q3", "q4" }));
    }

    [Test]
    public void ChangedConfig_RefusesToResume_AndLeavesTheFileAlone()
    {
        using var dir = new TempDir();
        var first = RunnerTestKit.Run(dir.Path, "--limit", "2");
        string keepAll = first.AnswerFiles["KeepAll"];
        string before = File.ReadAllText(keepAll);
        string resolved = File.ReadAllText(first.ResolvedConfig);
        var e = Assert.Throws<InvalidOperationException>(() => RunnerTestKit.Run(dir.Path, "--Run:Eval:MaxNewTokens=3"));
        Assert.That(e!.Message, Does.Contain("config hash").And.Contain(keepAll));
        Assert.That(File.ReadAllText(keepAll), Is.EqualTo(before));
        Assert.That(File.ReadAllText(first.ResolvedConfig), Is.EqualTo(resolved), "the resolved config still describes the answers");
    }

    [Test]
    public void ConfigHash_IgnoresLimitShardAndOutput_ButNotGenerationSettings()
    {
        string outA = Path.Combine(Path.GetTempPath(), "a"), outB = Path.Combine(Path.GetTempPath(), "b");   // never written
        var a = RunnerTestKit.Options(outA);
        var b = RunnerTestKit.Options(outB, "--limit", "2", "--shard", "1/3");
        var c = RunnerTestKit.Options(outA, "--Run:Eval:MaxNewTokens=3");
        Assert.That(ConfigHash.Of(b, b.Methods[1]), Is.EqualTo(ConfigHash.Of(a, a.Methods[1])));
        Assert.That(ConfigHash.Of(c, c.Methods[1]), Is.Not.EqualTo(ConfigHash.Of(a, a.Methods[1])));
        Assert.That(ConfigHash.Of(a, a.Methods[0]), Is.Not.EqualTo(ConfigHash.Of(a, a.Methods[1])), "methods differ");
    }

    [Test]
    public void TwoShardsMerged_EqualTheUnshardedRun()
    {
        using var dir = new TempDir();
        using var whole = new TempDir();
        var s0 = RunnerTestKit.Run(dir.Path, "--shard", "0/2");
        var s1 = RunnerTestKit.Run(dir.Path, "--shard", "1/2");
        Assert.That(RunnerTestKit.Ids(s0.AnswerFiles["KeepAll"]), Is.EqualTo(new[] { "q1", "q3", "q5" }));
        Assert.That(RunnerTestKit.Ids(s1.AnswerFiles["KeepAll"]), Is.EqualTo(new[] { "q2", "q4", "q6" }));
        Assert.That(File.Exists(Path.Combine(dir.Path, "report.shard-0-of-2.md")) && File.Exists(Path.Combine(dir.Path, "report.shard-1-of-2.csv")));

        string merged = dir.File("merged.jsonl");
        int n = AnswerMerge.Merge([s0.AnswerFiles["KeepAll"], s1.AnswerFiles["KeepAll"]], merged);
        var unsharded = RunnerTestKit.Run(whole.Path);
        var expected = AnswerFile.Read(unsharded.AnswerFiles["KeepAll"]).ToDictionary(a => a.QuestionId, a => a.Text);
        var got = AnswerFile.Read(merged).ToDictionary(a => a.QuestionId, a => a.Text);
        Assert.That(n, Is.EqualTo(6));
        Assert.That(got, Is.EquivalentTo(expected), "same ids, same greedy answers");
        Assert.That(AnswerFile.ReadHash(merged), Is.EqualTo(AnswerFile.ReadHash(unsharded.AnswerFiles["KeepAll"])));
    }

    [Test]
    public void Merge_RefusesDuplicatesAndMixedConfigs()
    {
        using var dir = new TempDir();
        var s0 = RunnerTestKit.Run(dir.Path, "--shard", "0/2", "--limit", "1");
        var dup = Assert.Throws<InvalidOperationException>(() => AnswerMerge.Merge([s0.AnswerFiles["KeepAll"], s0.AnswerFiles["KeepAll"]], dir.File("m.jsonl")));
        Assert.That(dup!.Message, Does.Contain("q1"));
        var mixed = Assert.Throws<InvalidOperationException>(() => AnswerMerge.Merge([s0.AnswerFiles["KeepAll"], s0.AnswerFiles["Random"]], dir.File("m.jsonl")));
        Assert.That(mixed!.Message, Does.Contain("config hash"));
        Assert.That(File.Exists(dir.File("m.jsonl")), Is.False, "nothing written on refusal");
    }
}
