using System.Text.Json;
using PioFvlm.Bench.Eval.Runner;
using PioFvlm.Core.Vision;
using PioFvlm.Tests.CommandLine;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Eval;

/// <summary>MMBench TSV and LLaVA's ScienceQA json as runnable eval inputs (Run:Eval:Format).</summary>
[NonParallelizable]
public class RunnerInputFormatTests
{
    static string Root()
    {
        for (var d = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "configs/runs/tiny-smoke.json"))) return d.FullName;
        Assert.Fail("repository root not found");
        return "";
    }

    static string Png => Path.Combine(Root(), "configs/data/tiny-smoke/images/red-0.png");

    static string WriteMmBench(TempDir dir)
    {
        string b64 = Convert.ToBase64String(File.ReadAllBytes(Png));
        string path = dir.File("mmb.tsv");
        File.WriteAllLines(path,
        [
            "index\tquestion\thint\tA\tB\tC\tD\tanswer\tcategory\timage",
            $"7\tWhat colour is the square?\tA toy picture.\tred\tblue\tnan\tnan\tA\tcolour\t{b64}",
            $"9\tWhich shape is shown?\tnan\tcircle\tsquare\ttriangle\tnan\tB\tshape\t{b64}",
        ]);
        return path;
    }

    [Test]
    public void MmBenchPromptFoldsHintAndPresentOptionsAndDecodesTheInlineImage()
    {
        using var dir = new TempDir();
        var samples = new MmBenchDataset(dir.File("cache")).Load(WriteMmBench(dir), null);
        Assert.That(samples.Select(s => s.QuestionId), Is.EqualTo(new[] { "7", "9" }));
        Assert.That(samples[0].Text, Is.EqualTo("A toy picture.\nWhat colour is the square?\nA. red\nB. blue\n" + MmBenchDataset.Instruction));
        Assert.That(samples[1].Text, Is.EqualTo("Which shape is shown?\nA. circle\nB. square\nC. triangle\n" + MmBenchDataset.Instruction));
        var decoded = ImageDecoder.Decode(samples[0].ImagePath!);
        var original = ImageDecoder.Decode(Png);
        Assert.That(decoded.Pixels, Is.EqualTo(original.Pixels), "the base64 image round-trips to the same pixels");
        Assert.That(samples[0].Extra["answer"], Is.EqualTo("A"));
    }

    [Test]
    public void ScienceQaJsonGivesTheHumanTurnWithoutThePlaceholderAndTextOnlyProblems()
    {
        using var dir = new TempDir();
        string path = dir.File("sqa.json");
        File.WriteAllText(path, JsonSerializer.Serialize(new object[]
        {
            new { id = "s1", image = "red-0.png", conversations = new[] { new { from = "human", value = "<image>\nQuestion: What colour?\nOptions: (A) red (B) blue" } } },
            new { id = "s2", conversations = new[] { new { from = "human", value = "Question: 2+2?\nOptions: (A) 3 (B) 4" } } },
        }));
        var samples = new ScienceQaDataset().Load(path, Path.GetDirectoryName(Png));
        Assert.That(samples[0].Text, Is.EqualTo("Question: What colour?\nOptions: (A) red (B) blue"));
        Assert.That(samples[0].ImagePath, Is.EqualTo(Path.GetFullPath(Png)));
        Assert.That(samples[1].ImagePath, Is.Null);
    }

    [Test]
    public void MmBenchRunsEndToEndThroughEval()
    {
        using var dir = new TempDir();
        var (rc, _, stderr) = CliRunner.Run("eval", Path.Combine(Root(), "configs/runs/tiny-smoke.json"), "--Run:Eval:Format=MmBenchTsv",
            $"--Run:Eval:Dataset={WriteMmBench(dir)}", "--Run:Methods:Random=", "--Run:Eval:MaxNewTokens=2", "--output", dir.File("out"));
        Assert.That(rc, Is.EqualTo(0), stderr);
        var answers = AnswerFile.Read(Path.Combine(dir.File("out"), "PioFvlm", "answers.jsonl"));
        Assert.That(answers.Select(a => a.QuestionId), Is.EqualTo(new[] { "7", "9" }));
        Assert.That(answers[0].Prompt, Does.Contain("A. red\nB. blue"));
    }
}
