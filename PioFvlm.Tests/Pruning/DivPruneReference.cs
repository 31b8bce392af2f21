namespace PioFvlm.Tests.Pruning;

/// <summary>
/// A brute-force DivPrune (specs/baselines.md §8.3) in doubles, from the definition: the full cosine-distance matrix
/// by plain loops, the first pick by the second-smallest entry of each column, then every pick the token with the
/// largest distance to its closest picked token, recomputed over the picked set each step (no running minimum).
/// </summary>
static class DivPruneReference
{
    public static double[,] Distances(double[][] rows)
    {
        int n = rows.Length;
        var d = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double dot = 0, ni = 0, nj = 0;
                for (int h = 0; h < rows[i].Length; h++)
                {
                    dot += rows[i][h] * rows[j][h];
                    ni += rows[i][h] * rows[i][h];
                    nj += rows[j][h] * rows[j][h];
                }
                d[i, j] = 1 - dot / (Math.Sqrt(ni) * Math.Sqrt(nj));
            }
        return d;
    }

    /// <summary>Picks in greedy order, and the smallest gap between the winner and the runner-up over all steps
    /// (so a test can tell a real disagreement from a float32 near-tie).</summary>
    public static (int[] Order, double SmallestMargin) Greedy(double[][] rows, int keep)
    {
        int n = rows.Length, k = Math.Min(keep, n);
        var d = Distances(rows);
        var picked = new List<int>();
        double margin = double.PositiveInfinity;
        for (int t = 0; t < k; t++)
        {
            var scores = new List<(int Index, double Score)>();
            for (int j = 0; j < n; j++)
            {
                if (picked.Contains(j)) continue;
                double score;
                if (t == 0)
                {
                    var column = Enumerable.Range(0, n).Select(i => d[i, j]).OrderBy(x => x).ToArray();
                    score = column[1];
                }
                else score = picked.Min(s => d[s, j]);
                scores.Add((j, score));
            }
            var ranked = scores.OrderByDescending(s => s.Score).ThenBy(s => s.Index).ToArray();
            if (ranked.Length > 1) margin = Math.Min(margin, ranked[0].Score - ranked[1].Score);
            picked.Add(ranked[0].Index);
        }
        return (picked.ToArray(), margin);
    }
}
