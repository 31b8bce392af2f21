namespace PioFvlm.Tests.Pruning;

/// <summary>
/// Brute-force VScan written from specs/pio-fvlm.md §6.1 alone, as the tests' oracle: plain loops, explicit
/// comparisons (score descending, then index ascending), doubles.
/// </summary>
internal static class VScanReference
{
    /// <summary>Local picks (per window: window order, then score order), global picks, kept (ascending).</summary>
    public static (List<int> Local, List<int> Global, int[] Kept) Select(double[] shallow, double[] deep, int grid, int budget)
    {
        int n = grid * grid;
        if (budget >= n) return ([], [], Enumerable.Range(0, n).ToArray());
        int side = grid / 4;   // only grids divisible by 4 are used here
        int k = budget / 2 / 16;
        var local = new List<int>();
        for (int wy = 0; wy < 4; wy++)
            for (int wx = 0; wx < 4; wx++)
            {
                var members = new List<int>();
                for (int r = wy * side; r < (wy + 1) * side; r++)
                    for (int c = wx * side; c < (wx + 1) * side; c++)
                        members.Add(r * grid + c);
                local.AddRange(Best(members, shallow, k));
            }
        var rest = Enumerable.Range(0, n).Where(i => !local.Contains(i)).ToList();
        var global = Best(rest, deep, budget - budget / 2);
        var kept = local.Concat(global).Distinct().ToArray();
        Array.Sort(kept);
        return (local, global, kept);
    }

    /// <summary>Repeatedly takes the maximum (lowest index among equals): k passes of a linear scan.</summary>
    static List<int> Best(List<int> candidates, double[] scores, int k)
    {
        var left = new List<int>(candidates);
        var picked = new List<int>();
        while (picked.Count < k && left.Count > 0)
        {
            int best = left[0];
            foreach (int i in left)
                if (scores[i] > scores[best] || (scores[i] == scores[best] && i < best)) best = i;
            picked.Add(best);
            left.Remove(best);
        }
        return picked;
    }

    /// <summary>Every dropped row to its most cosine-similar kept row (first on ties); kept rows become the means.</summary>
    public static double[][] Merge(double[][] rows, IReadOnlyList<int> kept)
    {
        var sums = kept.Select(i => (double[])rows[i].Clone()).ToArray();
        var counts = Enumerable.Repeat(1, kept.Count).ToArray();
        for (int d = 0; d < rows.Length; d++)
        {
            if (kept.Contains(d)) continue;
            int best = 0;
            double bestSim = double.NegativeInfinity;
            for (int j = 0; j < kept.Count; j++)
            {
                double sim = Cosine(rows[d], rows[kept[j]]);
                if (sim > bestSim) { bestSim = sim; best = j; }
            }
            for (int h = 0; h < rows[d].Length; h++) sums[best][h] += rows[d][h];
            counts[best]++;
        }
        return sums.Select((s, j) => s.Select(v => v / counts[j]).ToArray()).ToArray();
    }

    static double Cosine(double[] a, double[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return dot / (Math.Sqrt(na) * Math.Sqrt(nb));
    }
}
