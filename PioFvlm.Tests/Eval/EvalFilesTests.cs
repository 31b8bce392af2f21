using PioFvlm.Bench.Eval;
using PioFvlm.Bench.Eval.Datasets;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Eval;

public class EvalFilesTests
{
    [Test]
    public void AnswersFile_ReadsNumericAndStringIds_AsStrings()
    {
        using var dir = new TempDir();
        string path = dir.File("a.jsonl");
        File.WriteAllText(path,
            "{\"question_id\": 17, \"prompt\": \"p\", \"text\": \"Yes\", \"answer_id\": \"x\", \"model_id\": \"m\", \"metadata\": {\"k\": 3}}\n" +
            "\n" +
            "{\"question_id\": \"20240073\", \"prompt\": \"q\", \"text\": \"no\", \"answer_id\": \"y\", \"model_id\": \"m\", \"metadata\": {}}\n");
        var answers = AnswersFile.Read(path);
        Assert.That(answers.Select(a => a.QuestionId), Is.EqualTo(new[] { "17", "20240073" }));
        Assert.That(answers[0].Text, Is.EqualTo("Yes"));
        Assert.That(answers[0].Metadata["k"], Is.EqualTo("3"));
    }

    [Test]
    public void AnswersFile_RoundTrips()
    {
        using var dir = new TempDir();
        string path = dir.File("a.jsonl");
        var written = new[]
        {
            new AnswerRecord("5", "What?\n", "A \"dog\" é", "id1", "model", new Dictionary<string, string> { ["t"] = "1" }),
            new AnswerRecord("n_007", "", "", "id2", "model", new Dictionary<string, string>()),
            new AnswerRecord("007", "", "x", "id3", "model", new Dictionary<string, string>()),
        };
        AnswersFile.Write(path, written);
        var lines = File.ReadAllLines(path);
        Assert.That(lines[0], Does.StartWith("{\"question_id\":5,"));
        Assert.That(lines[2], Does.StartWith("{\"question_id\":\"007\","));
        var read = AnswersFile.Read(path);
        Assert.That(read.Count, Is.EqualTo(3));
        for (int i = 0; i < 3; i++)
        {
            Assert.That(read[i] with { Metadata = written[i].Metadata }, Is.EqualTo(written[i]));
            Assert.That(read[i].Metadata, Is.EquivalentTo(written[i].Metadata));
        }
    }

    [Test]
    public void AnswersFile_MalformedLine_NamesFileAndLine()
    {
        using var dir = new TempDir();
        string path = dir.File("bad.jsonl");
        File.WriteAllText(path, "{\"question_id\": 1, \"text\": \"a\"}\n{\"question_id\": 2, \"text\": \n");
        var e = Assert.Throws<EvalDataException>(() => AnswersFile.Read(path))!;
        Assert.That(e.Message, Does.Contain("bad.jsonl:2:"));
        File.WriteAllText(path, "{\"question_id\": 1}\n");
        e = Assert.Throws<EvalDataException>(() => AnswersFile.Read(path))!;
        Assert.That(e.Message, Does.Contain("bad.jsonl:1:").And.Contain("text"));
    }

    [Test]
    public void QuestionFile_ResolvesImagesAndKeepsCategoryAndExtras()
    {
        using var dir = new TempDir();
        string path = dir.File("q.jsonl");
        File.WriteAllText(path,
            "{\"question_id\": 1, \"image\": \"COCO_1.jpg\", \"text\": \"Is there a dog?\", \"category\": \"random\"}\n" +
            "{\"question_id\": \"b\", \"image\": \"sub/x.png\", \"text\": \"t\", \"label\": \"yes\"}\n");
        var images = dir.File("images");
        var r = LlavaQuestionFile.Read(path, images);
        Assert.That(r.Warnings, Is.Empty);
        Assert.That(r.Samples[0].ImagePath, Is.EqualTo(Path.Combine(Path.GetFullPath(images), "COCO_1.jpg")));
        Assert.That(r.Samples[0].Category, Is.EqualTo("random"));
        Assert.That(r.Samples[1].QuestionId, Is.EqualTo("b"));
        Assert.That(r.Samples[1].ImagePath, Is.EqualTo(Path.Combine(Path.GetFullPath(images), "sub", "x.png")));
        Assert.That(r.Samples[1].Category, Is.Null);
        Assert.That(r.Samples[1].Extra["label"], Is.EqualTo("yes"));
    }

    [Test]
    public void QuestionFile_PathEscape_IsRejected()
    {
        using var dir = new TempDir();
        string path = dir.File("q.jsonl");
        File.WriteAllText(path, "{\"question_id\": 1, \"image\": \"../../etc/passwd\", \"text\": \"t\"}\n");
        var e = Assert.Throws<EvalDataException>(() => LlavaQuestionFile.Read(path, dir.File("images")))!;
        Assert.That(e.Message, Does.Contain("q.jsonl:1:").And.Contain("outside the image folder"));
        // A sibling folder whose name starts with the image folder's name is outside too.
        File.WriteAllText(path, "{\"question_id\": 1, \"image\": \"../images2/a.jpg\", \"text\": \"t\"}\n");
        Assert.Throws<EvalDataException>(() => LlavaQuestionFile.Read(path, dir.File("images")));
    }

    [Test]
    public void QuestionFile_MalformedLines_FatalOrCollected()
    {
        using var dir = new TempDir();
        string path = dir.File("q.jsonl");
        File.WriteAllText(path,
            "{\"question_id\": 1, \"image\": \"a.jpg\", \"text\": \"t\"}\n" +
            "not json\n" +
            "{\"question_id\": 3, \"image\": \"c.jpg\"}\n" +
            "{\"question_id\": 1, \"image\": \"d.jpg\", \"text\": \"dup\"}\n" +
            "{\"question_id\": 5, \"image\": \"e.jpg\", \"text\": \"t\"}\n");
        var e = Assert.Throws<EvalDataException>(() => LlavaQuestionFile.Read(path, dir.Path))!;
        Assert.That(e.Message, Does.Contain("q.jsonl:2:"));
        var r = LlavaQuestionFile.Read(path, dir.Path, skipMalformed: true);
        Assert.That(r.Samples.Select(s => s.QuestionId), Is.EqualTo(new[] { "1", "5" }));
        Assert.That(r.Warnings.Count, Is.EqualTo(3));
        Assert.That(r.Warnings[0], Does.Contain("q.jsonl:2:"));
        Assert.That(r.Warnings[1], Does.Contain("q.jsonl:3:").And.Contain("text"));
        Assert.That(r.Warnings[2], Does.Contain("q.jsonl:4:").And.Contain("duplicate"));
    }
}
