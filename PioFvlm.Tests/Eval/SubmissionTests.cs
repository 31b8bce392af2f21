using System.IO.Compression;
using System.Text.Json;
using System.Xml.Linq;
using PioFvlm.Bench.Eval;
using PioFvlm.Bench.Eval.Datasets;
using PioFvlm.Tests.CommandLine;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Eval;

/// <summary>Upload files for the benchmarks scored by official servers.</summary>
[NonParallelizable]
public class SubmissionTests
{
    static AnswerRecord Answer(string id, string text) => new(id, "p", text, "a" + id, "m", new Dictionary<string, string>());

    [Test]
    public void VqaV2ListsEveryQuestionWithNormalisedAnswersAndEmptyForMissing()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("q.jsonl"),
        [
            """{"question_id": 1001, "image": "a.jpg", "text": "How many?"}""",
            """{"question_id": 1002, "image": "b.jpg", "text": "What?"}""",
        ]);
        AnswersFile.Write(dir.File("answers.jsonl"), [Answer("1001", "Two.")]);
        var (rc, stdout, stderr) = CliRunner.Run("submission", "--benchmark", "vqav2", "--answers", dir.File("answers.jsonl"),
            "--questions", dir.File("q.jsonl"), "--out", dir.File("sub.json"));
        Assert.That(rc, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("1 questions had no answer"));
        using var doc = JsonDocument.Parse(File.ReadAllText(dir.File("sub.json")));
        var items = doc.RootElement.EnumerateArray().Select(e => (e.GetProperty("question_id").GetInt64(), e.GetProperty("answer").GetString())).ToList();
        Assert.That(items, Is.EqualTo(new[] { (1001L, "2"), (1002L, "") }), "'Two.' normalises to '2' (number word, period dropped)");
    }

    [Test]
    public void MmBenchWorkbookHoldsTheRowsWithoutImagesPlusPredictions()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("mmb.tsv"),
        [
            "index\tquestion\tA\tB\tanswer\timage",
            "7\tColour <of> it?\tred\tblue\tA\tAAAA",
            "9\tShape?\tcircle\tsquare\tB\tBBBB",
        ]);
        AnswersFile.Write(dir.File("answers.jsonl"), [Answer("7", "A"), Answer("9", "B")]);
        var (rc, _, stderr) = CliRunner.Run("submission", "--benchmark", "mmbench", "--answers", dir.File("answers.jsonl"),
            "--questions", dir.File("mmb.tsv"), "--out", dir.File("sub.xlsx"));
        Assert.That(rc, Is.EqualTo(0), stderr);
        using var zip = ZipFile.OpenRead(dir.File("sub.xlsx"));
        Assert.That(zip.Entries.Select(e => e.FullName), Is.SupersetOf(new[] { "[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml" }));
        XNamespace ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
        var sheet = XDocument.Load(zip.GetEntry("xl/worksheets/sheet1.xml")!.Open());
        var rows = sheet.Descendants(ns + "row").Select(r => r.Descendants(ns + "t").Select(t => t.Value).ToArray()).ToList();
        Assert.That(rows[0], Is.EqualTo(new[] { "index", "question", "A", "B", "answer", "prediction" }));
        Assert.That(rows[1], Is.EqualTo(new[] { "7", "Colour <of> it?", "red", "blue", "A", "A" }), "markup characters survive the XML escaping");
        Assert.That(rows[2][^1], Is.EqualTo("B"));
    }

    [Test]
    public void UnknownBenchmarkIsAUsageError()
    {
        var (rc, _, stderr) = CliRunner.Run("submission", "--benchmark", "gqa", "--answers", "a", "--questions", "q", "--out", "o");
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("--benchmark must be vqav2 or mmbench, got 'gqa'"));
    }
}
