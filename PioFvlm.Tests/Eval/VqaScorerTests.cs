using PioFvlm.Bench.Eval;
using PioFvlm.Bench.Eval.Scoring;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Eval;

public class VqaScorerTests
{
    [TestCase("two", "2")]
    [TestCase("A dog", "dog")]
    [TestCase("the Red car.", "red car")]
    [TestCase("Yes!", "yes")]
    [TestCase("dont", "don't")]
    [TestCase("3.5", "3.5")]                   // a period before a digit stays
    [TestCase("1,000", "1000")]                // ',' is dropped first
    [TestCase("black-and-white", "black and white")]   // '-' with no neighbouring space becomes a space
    [TestCase("black - white", "black white")]          // ' -' present: removed
    [TestCase("man's hat", "man 's hat")]
    [TestCase("well", "we'll")]                   // the EvalAI table's quirk
    [TestCase("  none\n", "0")]
    public void Normalize_MatchesOfficialRules(string input, string expected) =>
        Assert.That(VqaAnswerNormalizer.Normalize(input), Is.EqualTo(expected));

    static readonly string[] TenOthers = ["cat", "cat", "cat", "cat", "cat", "cat", "cat", "cat", "cat", "cat"];

    static string[] WithMatches(int k) => Enumerable.Repeat("2", k).Concat(TenOthers.Take(10 - k)).ToArray();

    // Hand-computed: with k matching annotators among 10, a matching one leaves k-1 matches, a non-matching one k.
    // k=1: (1*0 + 9*(1/3))/10 = 0.3 ; k=2: (2*(1/3) + 8*(2/3))/10 = 0.6 ; k=3: (3*(2/3) + 7*1)/10 = 0.9 ; k=4: 1.
    [TestCase(0, 0.0)]
    [TestCase(1, 0.3)]
    [TestCase(2, 0.6)]
    [TestCase(3, 0.9)]
    [TestCase(4, 1.0)]
    [TestCase(10, 1.0)]
    public void SoftAccuracy_LeaveOneOutByHand(int matches, double expected) =>
        Assert.That(VqaSoftAccuracy.Score("Two", WithMatches(matches)), Is.EqualTo(expected).Within(1e-12));

    [TestCase("What is written?\nReference OCR token: STOP, sign\nAnswer the question using a single word or phrase.", "what is written?")]
    [TestCase("Reference OCR token: STOP\nWhat is written?\nAnswer briefly.", "what is written?")]
    [TestCase("What is written?\nAnswer the question using a single word or phrase.", "what is written?")]
    [TestCase("OCR tokens: STOP Question: What is\nwritten? Short answer:", "what is\nwritten?")]
    public void QuestionFromPrompt_LlavaForms(string prompt, string question) =>
        Assert.That(VqaScorer.QuestionFromPrompt(prompt), Is.EqualTo(question));

    [Test]
    public void TextVqa_MatchesByIdOrByImageAndQuestion()
    {
        using var dir = new TempDir();
        string ann = dir.File("TextVQA_0.5.1_val.json");
        File.WriteAllText(ann, """
            {"dataset_name": "textvqa", "data": [
              {"question_id": 34602, "image_id": "003a8ae2ef43b901", "question": "what is the brand of this camera?",
               "answers": ["nous les gosses", "dakota", "clos culombu", "dakota digital", "dakota", "dakota", "dakota digital", "dakota digital", "dakota", "dakota"]},
              {"question_id": 34603, "image_id": "01b7a1c5d6d6c3a9", "question": "how many dogs?",
               "answers": ["two", "2", "2", "3", "3", "3", "3", "3", "3", "3"]}
            ]}
            """);
        var answers = EvalTestFiles.Answers(
            ("34602", "", "Dakota."),   // 6 matches → 1
            ("01b7a1c5d6d6c3a9", "How many dogs?\nReference OCR token: a, b\nAnswer the question using a single word or phrase.", "2 dogs"), // 0
            ("01b7a1c5d6d6c3a9", "How many dogs?\nAnswer the question using a single word or phrase.", "two"));  // "two"→"2": 3 matches → 0.9
        var s = EvalTestFiles.ScoreInAnyOrder(new VqaScorer("textvqa"), answers, new ScoringInputs(ann, null));
        Assert.That(s.Main, Is.EqualTo(100 * (1 + 0 + 0.9) / 3).Within(1e-9));
        Assert.That(s.Metrics["count"], Is.EqualTo(3));
    }

    [Test]
    public void Vqav2_AnnotationsFormat_AndUnknownIdIsAnError()
    {
        using var dir = new TempDir();
        string ann = dir.File("v2.json");
        File.WriteAllText(ann, """
            {"annotations": [{"question_id": 1, "image_id": 9, "answers": [
              {"answer": "a dog"}, {"answer": "dog"}, {"answer": "cat"}, {"answer": "cat"}, {"answer": "cat"},
              {"answer": "cat"}, {"answer": "cat"}, {"answer": "cat"}, {"answer": "cat"}, {"answer": "cat"}]}]}
            """);
        var s = new VqaScorer("vqav2").Score(EvalTestFiles.Answers(("1", "", "The dog")), new ScoringInputs(ann, null));
        Assert.That(s.Main, Is.EqualTo(60).Within(1e-9));   // "a dog" and "dog" both normalise to "dog": 2 matches
        var e = Assert.Throws<PioFvlm.Bench.Eval.Datasets.EvalDataException>(() =>
            new VqaScorer("vqav2").Score(EvalTestFiles.Answers(("2", "", "x")), new ScoringInputs(ann, null)))!;
        Assert.That(e.Message, Does.Contain("v2.json").And.Contain("'2'"));
    }
}
