using PioFvlm.Bench.Eval;
using PioFvlm.Bench.Eval.Datasets;
using PioFvlm.Bench.Eval.Scoring;
using PioFvlm.Tests.TestSupport;

using PioFvlm.Tests.Eval;

namespace PioFvlm.Tests.Demo;

public class ShapesScorerTests
{
    static AnswerRecord Answer(string id, string text) => new(id, "", text, "x", "m", new Dictionary<string, string>());

    [Test]
    public void AccuracyOverallAndPerTypeByHand()
    {
        using var dir = new TempDir();
        string questions = dir.File("questions.jsonl");
        File.WriteAllLines(questions,
        [
            """{"question_id": "a", "image": "1.png", "text": "q", "category": "exist", "answer": "yes"}""",
            """{"question_id": "b", "image": "1.png", "text": "q", "category": "exist", "answer": "no"}""",
            """{"question_id": "c", "image": "1.png", "text": "q", "category": "colour", "answer": "red"}""",
            """{"question_id": "d", "image": "1.png", "text": "q", "category": "count", "answer": "2"}""",
        ]);
        // a: "Yes, there is" matches yes on its first word; b wrong; c "Red." matches; d "3" wrong.
        var answers = new[] { Answer("a", "Yes, there is"), Answer("b", "yes"), Answer("c", "Red."), Answer("d", "3") };
        var score = EvalTestFiles.ScoreInAnyOrder(new ShapesScorer(), answers, new ScoringInputs(questions, questions));
        Assert.That(score.Main, Is.EqualTo(50.0));
        Assert.That(score.Metrics["exist/accuracy"], Is.EqualTo(50.0));
        Assert.That(score.Metrics["colour/accuracy"], Is.EqualTo(100.0));
        Assert.That(score.Metrics["count/accuracy"], Is.EqualTo(0.0));
        Assert.That(() => new ShapesScorer().Score([Answer("zz", "yes")], new ScoringInputs(questions, questions)),
            Throws.TypeOf<EvalDataException>().With.Message.Contains("'zz'"));
    }
}
