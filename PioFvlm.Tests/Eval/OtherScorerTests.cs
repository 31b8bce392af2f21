using PioFvlm.Bench.Eval;
using PioFvlm.Bench.Eval.Datasets;
using PioFvlm.Bench.Eval.Scoring;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Eval;

public class OtherScorerTests
{
    [Test]
    public void Gqa_ExactMatchAfterTrailingPeriodAndLowercase()
    {
        using var dir = new TempDir();
        string ann = dir.File("testdev_balanced_questions.json");
        File.WriteAllText(ann, """{"201": {"answer": "table"}, "202": {"answer": "no"}, "203": {"answer": "left"}}""");
        var answers = EvalTestFiles.Answers(("201", "Table."), ("202", "No"), ("203", "the left"));
        var s = EvalTestFiles.ScoreInAnyOrder(new GqaScorer(), answers, new ScoringInputs(ann, null));
        Assert.That(s.Main, Is.EqualTo(200.0 / 3).Within(1e-9));
        Assert.Throws<EvalDataException>(() => new GqaScorer().Score(EvalTestFiles.Answers(("999", "x")), new ScoringInputs(ann, null)));
    }

    [TestCase("Yes", "yes")]
    [TestCase("No, there is not.", "no")]
    [TestCase("yes.", "yes")]
    [TestCase("I think no", "other")]   // only the first 4 characters are searched
    [TestCase("Nope", "no")]
    public void Mme_ParseYesNo(string text, string expected) => Assert.That(MmeScorer.ParseYesNo(text), Is.EqualTo(expected));

    [Test]
    public void Mme_AccAndAccPlusByHand()
    {
        using var dir = new TempDir();
        string gt = dir.File("MME_Benchmark_release_version");
        // existence: images/ + questions_answers_YN/ layout; code_reasoning: question files beside the images.
        var qa = Directory.CreateDirectory(Path.Combine(gt, "existence", "questions_answers_YN")).FullName;
        Directory.CreateDirectory(Path.Combine(gt, "existence", "images"));
        File.WriteAllLines(Path.Combine(qa, "1.txt"), [
            "Is there a dog? Please answer yes or no.\tYes", "Is there a cat? Please answer yes or no.\tNo"]);
        File.WriteAllLines(Path.Combine(qa, "2.txt"), [
            "Is there a car? Please answer yes or no.\tYes", "Is there a bus? Please answer yes or no.\tNo"]);
        var code = Directory.CreateDirectory(Path.Combine(gt, "code_reasoning")).FullName;
        File.WriteAllLines(Path.Combine(code, "0001.txt"), [
            "Is the output 3? Please answer yes or no.\tYes", "Is the output 4?  Please answer yes or no.\tNo"]);
        var answers = EvalTestFiles.Answers(
            ("existence/1.jpg", "Is there a dog? Please answer yes or no.", "Yes"),
            ("existence/1.jpg", "Is there a cat? Please answer yes or no.", "No"),
            ("existence/2.jpg", "Is there a car? Please answer yes or no.", "Yes"),
            ("existence/2.jpg", "Is there a bus?\nAnswer the question using a single word or phrase.", "Yes"),
            ("code_reasoning/0001.png", "Is the output 3? Please answer yes or no.", "Yes"),
            ("code_reasoning/0001.png", "Is the output 4?", "No"));   // " Please answer yes or no." added, two-space variant found
        var s = EvalTestFiles.ScoreInAnyOrder(new MmeScorer(), answers, new ScoringInputs(gt, null));
        // existence: 3/4 right = 75, one of two images fully right = 50 → 125; code: 100 + 100 = 200.
        Assert.That(s.Metrics["existence/acc"], Is.EqualTo(75).Within(1e-9));
        Assert.That(s.Metrics["existence/acc_plus"], Is.EqualTo(50).Within(1e-9));
        Assert.That(s.Metrics["perception"], Is.EqualTo(125).Within(1e-9));
        Assert.That(s.Metrics["cognition"], Is.EqualTo(200).Within(1e-9));
        Assert.That(s.Main, Is.EqualTo(325).Within(1e-9));
    }

    [TestCase("B", 'B')]
    [TestCase("B. A cat", 'B')]
    [TestCase("The answer is B.", 'B')]
    [TestCase("I think the answer is B.", null)]   // case-sensitive "The answer is"
    [TestCase("The answer is A. The answer is B.", null)]   // two matches: FAILED
    [TestCase("b", null)]
    [TestCase("B.", null)]   // neither a bare letter nor "B. "
    public void OptionLetter_ParsesLikeEvalScienceQa(string text, char? expected) =>
        Assert.That(OptionLetter.Parse(text, "ABCDE"), Is.EqualTo(expected));

    [Test]
    public void ScienceQa_OverallAndImageAccuracy_MissingIsWrong()
    {
        using var dir = new TempDir();
        string problems = dir.File("problems.json");
        File.WriteAllText(problems, """
            {"1": {"choices": ["x", "y"], "answer": 1, "split": "test"},
             "2": {"choices": ["x", "y", "z"], "answer": 0, "split": "test"},
             "3": {"choices": ["x", "y"], "answer": 0, "split": "test"},
             "4": {"choices": ["x", "y"], "answer": 0, "split": "test"},
             "5": {"choices": ["x", "y"], "answer": 0, "split": "train"}}
            """);
        var answers = EvalTestFiles.Answers(
            ("1", "<image>\nQ", "The answer is B."),   // right, image
            ("2", "<image>\nQ", "C"),                  // wrong, image
            ("3", "Q", "A. x"));                       // right, text only; 4 missing → wrong
        var s = EvalTestFiles.ScoreInAnyOrder(new ScienceQaScorer(), answers, new ScoringInputs(problems, null));
        Assert.That(s.Metrics["accuracy"], Is.EqualTo(50).Within(1e-9));
        Assert.That(s.Metrics["img_accuracy"], Is.EqualTo(50).Within(1e-9));
        Assert.That(s.Metrics["count"], Is.EqualTo(4));
        Assert.That(s.Metrics["img_count"], Is.EqualTo(2));
        // A letter beyond the problem's choices is FAILED.
        var s2 = new ScienceQaScorer().Score(EvalTestFiles.Answers(("1", "Q", "E")), new ScoringInputs(problems, null));
        Assert.That(s2.Metrics["accuracy"], Is.EqualTo(0));
    }

    [Test]
    public void MmBench_TsvAndOptionParsing()
    {
        using var dir = new TempDir();
        string tsv = dir.File("mmbench_dev.tsv");
        File.WriteAllLines(tsv, [
            "index\tquestion\thint\tA\tB\tC\tD\tanswer\tcategory\timage",
            "10\tWhat color?\tnan\tred\tblue\tgreen\tnan\tB\tattr\tAAAA",
            "11\tHow many?\tcount it\t1\t2\t\t\tA\tcount\tAAAA",
            "12\tWhich?\tnan\tcat\tdog\tbird\tfish\tD\tattr\tAAAA"]);
        var samples = MmBenchTsv.Read(tsv);
        Assert.That(samples[0].Extra.ContainsKey("D"), Is.False);
        Assert.That(samples[1].Extra["hint"], Is.EqualTo("count it"));
        Assert.That(samples[1].Category, Is.EqualTo("count"));
        var answers = EvalTestFiles.Answers(("10", "The answer is B."), ("11", "2"), ("12", "fish"));
        // 10: B right; 11: "2" is option B's text → B, wrong; 12: "fish" is option D → right.
        var s = EvalTestFiles.ScoreInAnyOrder(new MmBenchScorer(), answers, new ScoringInputs(tsv, null));
        Assert.That(s.Main, Is.EqualTo(200.0 / 3).Within(1e-9));
        Assert.That(s.Metrics["attr/accuracy"], Is.EqualTo(100).Within(1e-9));
        Assert.That(s.Metrics["count/accuracy"], Is.EqualTo(0).Within(1e-9));
        File.AppendAllLines(tsv, ["13\tshort row"]);
        var e = Assert.Throws<EvalDataException>(() => MmBenchTsv.Read(tsv))!;
        Assert.That(e.Message, Does.Contain("mmbench_dev.tsv:5:"));
    }

    [Test]
    public void Registry_KnowsEveryBenchmark()
    {
        foreach (var name in new[] { "pope", "textvqa", "vqav2", "gqa", "mme", "scienceqa", "mmbench" })
            Assert.That(ScorerRegistry.Create(name).Name, Is.EqualTo(name));
        Assert.Throws<ArgumentException>(() => ScorerRegistry.Create("nope"));
    }
}
