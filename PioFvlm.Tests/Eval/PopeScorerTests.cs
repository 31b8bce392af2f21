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

    /// <summary>Three categories of 40 questions with seeded random labels and answers, written as files; the answers
    /// file is scored in question order and shuffled, from disk. Both must equal an oracle written here from the
    /// definition (question k of a category ↔ label k), and the shuffled file paired by line (eval_pope.py's way)
    /// must give a different F1, so the shuffle does test something.</summary>
    [Test]
    public void Score_ShuffledAnswersFile_SameMetricsAsOrdered()
    {
        using var dir = new TempDir();
        var ann = Directory.CreateDirectory(dir.File("ann")).FullName;
        var rng = new Random(7);
        string[] categories = ["adversarial", "popular", "random"];
        var questionLines = new List<string>();
        var answers = new List<AnswerRecord>();
        var oracle = new Dictionary<string, (int Tp, int Fp, int Tn, int Fn)>();
        var labelsByCategory = new Dictionary<string, List<bool>>();
        int id = 0;
        foreach (var cat in categories)
        {
            var labelLines = new List<string>();
            var labels = new List<bool>();
            int tp = 0, fp = 0, tn = 0, fn = 0;
            for (int k = 0; k < 40; k++)
            {
                id++;
                bool label = rng.Next(2) == 0, pred = rng.Next(3) != 0;
                string image = $"COCO_{rng.Next(1000):D6}.jpg";
                labelLines.Add($"{{\"question_id\": {k + 1}, \"image\": \"{image}\", \"text\": \"Is there a cat?\", \"label\": \"{(label ? "yes" : "no")}\"}}");
                questionLines.Add($"{{\"question_id\": {id}, \"image\": \"{image}\", \"text\": \"Is there a cat?\", \"category\": \"{cat}\"}}");
                answers.Add(new AnswerRecord(id.ToString(), "", pred ? "Yes, there is." : "No, there is not.", "a", "m", new Dictionary<string, string>()));
                labels.Add(label);
                if (pred && label) tp++; else if (pred) fp++; else if (!label) tn++; else fn++;
            }
            EvalTestFiles.WriteLines(Path.Combine(ann, $"coco_pope_{cat}.json"), [.. labelLines]);
            oracle[cat] = (tp, fp, tn, fn);
            labelsByCategory[cat] = labels;
        }
        string q = dir.File("q.jsonl");
        EvalTestFiles.WriteLines(q, [.. questionLines]);
        string ordered = dir.File("ordered.jsonl"), shuffled = dir.File("shuffled.jsonl");
        EvalTestFiles.WriteAnswers(ordered, answers);
        var lines = File.ReadAllLines(ordered);
        var shuffleRng = new Random(11);
        File.WriteAllLines(shuffled, lines.OrderBy(_ => shuffleRng.Next()).ToArray());
        Assert.That(File.ReadAllLines(shuffled), Is.Not.EqualTo(lines));

        var inputs = new ScoringInputs(ann, q);
        var a = new PopeScorer().Score(AnswersFile.Read(ordered), inputs);
        var b = new PopeScorer().Score(AnswersFile.Read(shuffled), inputs);
        Assert.That(b.Metrics, Is.EqualTo(a.Metrics));
        double meanF1 = 0;
        foreach (var cat in categories)
        {
            var (tp, fp, tn, fn) = oracle[cat];
            double p = tp / (double)(tp + fp), r = tp / (double)(tp + fn), f1 = 2 * p * r / (p + r);
            Assert.That(b.Metrics[$"{cat}/accuracy"], Is.EqualTo(100.0 * (tp + tn) / 40).Within(1e-9), cat);
            Assert.That(b.Metrics[$"{cat}/f1"], Is.EqualTo(100 * f1).Within(1e-9), cat);
            meanF1 += 100 * f1 / 3;
        }
        Assert.That(b.Main, Is.EqualTo(meanF1).Within(1e-9));

        // eval_pope.py's positional pairing on the shuffled file: the i-th answer of a category with the i-th label
        var shuffledAnswers = AnswersFile.Read(shuffled);
        double positionalF1 = 0;
        foreach (var cat in categories)
        {
            var preds = shuffledAnswers.Where(x => (int.Parse(x.QuestionId) - 1) / 40 == Array.IndexOf(categories, cat))
                .Select(x => PopeScorer.ParseYes(x.Text)).ToList();
            var labels = labelsByCategory[cat];
            int tp = Enumerable.Range(0, 40).Count(i => preds[i] && labels[i]);
            int fp = Enumerable.Range(0, 40).Count(i => preds[i] && !labels[i]);
            int fn = Enumerable.Range(0, 40).Count(i => !preds[i] && labels[i]);
            double p = tp / (double)(tp + fp), r = tp / (double)(tp + fn);
            positionalF1 += 100 * 2 * p * r / (p + r) / 3;
        }
        Assert.That(positionalF1, Is.Not.EqualTo(meanF1).Within(1e-6), "the shuffle should change a positional pairing");
    }

    [Test]
    public void Score_DuplicateAnswer_MissingAnswer_AndImageMismatch_AreErrors()
    {
        using var dir = new TempDir();
        var ann = Directory.CreateDirectory(dir.File("ann")).FullName;
        EvalTestFiles.WriteLines(Path.Combine(ann, "coco_pope_random.json"),
            "{\"question_id\": 1, \"image\": \"a.jpg\", \"label\": \"yes\"}", "{\"question_id\": 2, \"image\": \"b.jpg\", \"label\": \"no\"}");
        string q = dir.File("q.jsonl");
        EvalTestFiles.WriteLines(q,
            "{\"question_id\": 1, \"image\": \"a.jpg\", \"text\": \"t\", \"category\": \"random\"}",
            "{\"question_id\": 2, \"image\": \"b.jpg\", \"text\": \"t\", \"category\": \"random\"}");
        var inputs = new ScoringInputs(ann, q);
        var e = Assert.Throws<EvalDataException>(() => new PopeScorer().Score(EvalTestFiles.Answers(("1", "Yes"), ("2", "No"), ("1", "Yes")), inputs))!;
        Assert.That(e.Message, Does.Contain("'1'").And.Contain("twice"));
        e = Assert.Throws<EvalDataException>(() => new PopeScorer().Score(EvalTestFiles.Answers(("2", "No")), inputs))!;
        Assert.That(e.Message, Does.Contain("'1'").And.Contain("no answer"));
        string swapped = dir.File("q2.jsonl");
        EvalTestFiles.WriteLines(swapped,
            "{\"question_id\": 1, \"image\": \"b.jpg\", \"text\": \"t\", \"category\": \"random\"}",
            "{\"question_id\": 2, \"image\": \"a.jpg\", \"text\": \"t\", \"category\": \"random\"}");
        e = Assert.Throws<EvalDataException>(() => new PopeScorer().Score(EvalTestFiles.Answers(("1", "Yes"), ("2", "No")), new ScoringInputs(ann, swapped)))!;
        Assert.That(e.Message, Does.Contain("a.jpg").And.Contain("b.jpg"));
    }
}
