using System.Text.Json;
using PioFvlm.Tests.CommandLine;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Eval;

public class ScoreCommandTests
{
    [Test]
    public void Json_OneObjectWithMainAndMetrics()
    {
        using var dir = new TempDir();
        string ann = dir.File("gqa.json");
        File.WriteAllText(ann, """{"1": {"answer": "yes"}, "2": {"answer": "red"}}""");
        string answers = dir.File("answers.jsonl");
        EvalTestFiles.WriteAnswers(answers, EvalTestFiles.Answers(("1", "Yes."), ("2", "blue")));
        var (rc, stdout, stderr) = CliRunner.Run("score", "--benchmark", "gqa", "--answers", answers, "--annotations", ann, "--json");
        Assert.That(rc, Is.EqualTo(0), stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.That(doc.RootElement.GetProperty("benchmark").GetString(), Is.EqualTo("gqa"));
        Assert.That(doc.RootElement.GetProperty("main_metric").GetString(), Is.EqualTo("accuracy"));
        Assert.That(doc.RootElement.GetProperty("main").GetDouble(), Is.EqualTo(50).Within(1e-9));
        Assert.That(doc.RootElement.GetProperty("metrics").GetProperty("count").GetDouble(), Is.EqualTo(2));

        (rc, stdout, _) = CliRunner.Run("score", "--benchmark", "gqa", "--answers", answers, "--annotations", ann);
        Assert.That(rc, Is.EqualTo(0));
        Assert.That(stdout, Does.Contain("accuracy = 50.00"));
    }

    [Test]
    public void BadInput_ExitsOneNamingTheFile()
    {
        using var dir = new TempDir();
        string ann = dir.File("gqa.json");
        File.WriteAllText(ann, """{"1": {"answer": "yes"}}""");
        string answers = dir.File("broken.jsonl");
        File.WriteAllText(answers, "{\"question_id\": 1, \"text\": \"yes\"}\n{oops\n");
        var (rc, _, stderr) = CliRunner.Run("score", "--benchmark", "gqa", "--answers", answers, "--annotations", ann);
        Assert.That(rc, Is.EqualTo(1));
        Assert.That(stderr, Does.Contain("broken.jsonl:2:"));

        (rc, _, stderr) = CliRunner.Run("score", "--benchmark", "gqa", "--answers", dir.File("missing.jsonl"), "--annotations", ann);
        Assert.That(rc, Is.EqualTo(1));
        Assert.That(stderr, Does.Contain("missing.jsonl"));

        (rc, _, stderr) = CliRunner.Run("score", "--benchmark", "nope", "--answers", answers, "--annotations", ann);
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("unknown benchmark"));
    }
}
