namespace PioFvlm.Bench.Eval.Runner;

/// <summary>
/// Accuracy against an <c>answer</c> (or <c>label</c>) field of the question file: yes/no questions match on the answer's
/// first word (POPE-style), others on the trimmed, case-folded text. Null when no question carries a ground truth.
/// A stand-in until the benchmark scorers of Eval/Scoring are wired in.
/// </summary>
public static class SimpleMatchScorer
{
    public static string? Truth(EvalSample s) => s.Extra.GetValueOrDefault("answer") ?? s.Extra.GetValueOrDefault("label");

    public static double? Accuracy(IReadOnlyList<AnswerRecord> answers, IReadOnlyList<EvalSample> questions)
    {
        var truth = questions.Where(q => Truth(q) is not null).ToDictionary(q => q.QuestionId, q => Truth(q)!);
        var scored = answers.Where(a => truth.ContainsKey(a.QuestionId)).ToList();
        if (scored.Count == 0) return null;
        return scored.Count(a => Matches(a.Text, truth[a.QuestionId])) / (double)scored.Count;
    }

    public static bool Matches(string answer, string truth)
    {
        string a = Normalise(answer), t = Normalise(truth);
        if (t is "yes" or "no") return FirstWord(a) == t;
        return a == t;
    }

    static string Normalise(string s) => s.Trim().TrimEnd('.').ToLowerInvariant();

    static string FirstWord(string s)
    {
        var word = new string(s.TakeWhile(char.IsLetter).ToArray());
        return word;
    }
}
