using PioFvlm.Bench.Eval;
using PioFvlm.Bench.Eval.Datasets;
using PioFvlm.Bench.Eval.Scoring;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Eval;

public class PopeScorerTests
{
    [TestCase("Yes, there is a dog in the image.", true)]
    [TestCase("No, there is no dog.", false)]
    [TestCase("No.", false)]
    [TestCase("Yes.", true)]
    [TestCase("There is not a dog.", false)]
    [TestCase("Yes. But no cat.", true)]          // only the first sentence counts
    [TestCase("No, it is not", false)]
    [TestCase("Not really", true)]                 // "Not" is not in the word list (case-sensitive)
    [TestCase("no,", false)]                       // commas are removed before splitting
    [TestCase("none", true)]
    public void ParseYes_FollowsEvalPopeRule(string text, bool yes) =>
        Assert.That(PopeScorer.ParseYes(text), Is.EqualTo(yes));

    [Test]
    public void Score_PerCategoryMetricsByHand()
    {
        using var dir = new TempDir();
        var ann = Directory.CreateDirectory(dir.File("ann")).FullName;
        // random: labels yes,yes,no,no ; popular: labels yes,no
        EvalTestFiles.WriteLines(Path.Combine(ann, "coco_pope_random.json"),
            "{\"question_id\": 1, \"label\": \"yes\"}", "{\"question_id\": 2, \"label\": \"yes\"}",
            "{\"question_id\": 3, \"label\": \"no\"}", "{\"question_id\": 4, \"label\": \"no\"}");
        EvalTestFiles.WriteLines(Path.Combine(ann, "coco_pope_popular.json"),
            "{\"question_id\": 1, \"label\": \"yes\"}", "{\"question_id\": 2, \"label\": \"no\"}");
        string q = dir.File("q.jsonl");
        EvalTestFiles.WriteLines(q,
            "{\"question_id\": 10, \"image\": \"a.jpg\", \"text\": \"t\", \"category\": \"random\"}",
            "{\"question_id\": 11, \"image\": \"a.jpg\", \"text\": \"t\", \"category\": \"random\"}",
            "{\"question_id\": 12, \"image\": \"a.jpg\", \"text\": \"t\", \"category\": \"random\"}",
            "{\"question_id\": 13, \"image\": \"a.jpg\", \"text\": \"t\", \"category\": \"random\"}",
            "{\"question_id\": 20, \"image\": \"a.jpg\", \"text\": \"t\", \"category\": \"popular\"}",
            "{\"question_id\": 21, \"image\": \"a.jpg\", \"text\": \"t\", \"category\": \"popular\"}");
        // random preds: yes, no, yes, no -> TP1 FN1 FP1 TN1 ; popular preds: yes, yes -> TP1 FP1
        var answers = EvalTestFiles.Answers(
            ("10", "Yes, there is a dog."), ("20", "Yes"), ("11", "There is not a dog."), ("12", "Yes."),
            ("21", "Yes, there is"), ("13", "No."));
        var s = new PopeScorer().Score(answers, new ScoringInputs(ann, q));
        Assert.That(s.Metrics["random/accuracy"], Is.EqualTo(50).Within(1e-9));
        Assert.That(s.Metrics["random/precision"], Is.EqualTo(50).Within(1e-9));
        Assert.That(s.Metrics["random/recall"], Is.EqualTo(50).Within(1e-9));
        Assert.That(s.Metrics["random/f1"], Is.EqualTo(50).Within(1e-9));
        Assert.That(s.Metrics["random/yes_ratio"], Is.EqualTo(50).Within(1e-9));
        // popular: precision 1/2, recall 1/1, F1 = 2*0.5*1/1.5 = 2/3
        Assert.That(s.Metrics["popular/accuracy"], Is.EqualTo(50).Within(1e-9));
        Assert.That(s.Metrics["popular/precision"], Is.EqualTo(50).Within(1e-9));
        Assert.That(s.Metrics["popular/recall"], Is.EqualTo(100).Within(1e-9));
        Assert.That(s.Metrics["popular/f1"], Is.EqualTo(200.0 / 3).Within(1e-9));
        Assert.That(s.Metrics["popular/yes_ratio"], Is.EqualTo(100).Within(1e-9));
        Assert.That(s.Main, Is.EqualTo((50 + 200.0 / 3) / 2).Within(1e-9));
        Assert.That(s.MainMetric, Is.EqualTo("mean_f1"));
    }

    [Test]
    public void Score_CountMismatchAndUnknownId_AreErrors()
    {
        using var dir = new TempDir();
        var ann = Directory.CreateDirectory(dir.File("ann")).FullName;
        EvalTestFiles.WriteLines(Path.Combine(ann, "coco_pope_random.json"),
            "{\"question_id\": 1, \"label\": \"yes\"}", "{\"question_id\": 2, \"label\": \"no\"}");
        string q = dir.File("q.jsonl");
        EvalTestFiles.WriteLines(q, "{\"question_id\": 1, \"image\": \"a.jpg\", \"text\": \"t\", \"category\": \"random\"}");
        var e = Assert.Throws<EvalDataException>(() => new PopeScorer().Score(EvalTestFiles.Answers(("1", "Yes")), new ScoringInputs(ann, q)))!;
        Assert.That(e.Message, Does.Contain("coco_pope_random.json"));
        e = Assert.Throws<EvalDataException>(() => new PopeScorer().Score(EvalTestFiles.Answers(("9", "Yes")), new ScoringInputs(ann, q)))!;
        Assert.That(e.Message, Does.Contain("'9'"));
    }
}
