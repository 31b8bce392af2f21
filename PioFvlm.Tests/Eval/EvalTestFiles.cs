using PioFvlm.Bench.Eval;
using PioFvlm.Bench.Eval.Datasets;

namespace PioFvlm.Tests.Eval;

/// <summary>Small answer lists for scorer tests.</summary>
static class EvalTestFiles
{
    public static List<AnswerRecord> Answers(params (string Id, string Text)[] items) =>
        items.Select(i => new AnswerRecord(i.Id, "", i.Text, "a" + i.Id, "m", new Dictionary<string, string>())).ToList();

    public static List<AnswerRecord> Answers(params (string Id, string Prompt, string Text)[] items) =>
        items.Select(i => new AnswerRecord(i.Id, i.Prompt, i.Text, "a" + i.Id, "m", new Dictionary<string, string>())).ToList();

    public static void WriteLines(string path, params string[] lines) => File.WriteAllLines(path, lines);

    /// <summary>Scores <paramref name="answers"/> in its order, reversed and in three seeded shuffles; every metric must
    /// be the same (scorers pair answers with ground truth through the question, never by line). Returns the first score.</summary>
    public static BenchmarkScore ScoreInAnyOrder(IBenchmarkScorer scorer, IReadOnlyList<AnswerRecord> answers, ScoringInputs inputs)
    {
        var first = scorer.Score(answers, inputs);
        var orders = new List<List<AnswerRecord>> { Enumerable.Reverse(answers).ToList() };
        for (int seed = 1; seed <= 3; seed++) orders.Add(answers.ToList().Shuffled(seed));
        foreach (var order in orders)
        {
            var other = scorer.Score(order, inputs);
            Assert.That(other.Metrics.Keys, Is.EquivalentTo(first.Metrics.Keys), $"{scorer.Name}: metric names depend on the answer order");
            foreach (var (name, value) in first.Metrics)
                Assert.That(other.Metrics[name], Is.EqualTo(value).Within(1e-9), $"{scorer.Name}: metric '{name}' depends on the answer order");
        }
        return first;
    }

    static List<T> Shuffled<T>(this List<T> list, int seed)
    {
        var rng = new Random(seed);
        for (int i = list.Count - 1; i > 0; i--) { int j = rng.Next(i + 1); (list[i], list[j]) = (list[j], list[i]); }
        return list;
    }

    public static void WriteAnswers(string path, IEnumerable<AnswerRecord> answers) => AnswersFile.Write(path, answers);
}
