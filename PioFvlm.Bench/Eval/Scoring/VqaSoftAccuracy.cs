namespace PioFvlm.Bench.Eval.Scoring;

/// <summary>
/// The VQA soft accuracy: for each of the N ground-truth answers, the prediction scores min(1, matches among the other
/// N−1 / 3); the answer's accuracy is the mean over the N leave-one-out subsets (10 choose 9 for VQAv2/TextVQA).
/// Both sides are compared after <see cref="VqaAnswerNormalizer"/>.
/// </summary>
public static class VqaSoftAccuracy
{
    public static double Score(string prediction, IReadOnlyList<string> groundTruth)
    {
        if (groundTruth.Count == 0) throw new ArgumentException("no ground-truth answers");
        string pred = VqaAnswerNormalizer.Normalize(prediction);
        var gts = groundTruth.Select(VqaAnswerNormalizer.Normalize).ToList();
        int total = gts.Count(g => g == pred);
        double sum = 0;
        foreach (var g in gts)
        {
            int others = total - (g == pred ? 1 : 0);
            sum += Math.Min(1.0, others / 3.0);
        }
        return sum / gts.Count;
    }
}
