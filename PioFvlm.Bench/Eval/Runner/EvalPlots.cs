using System.Text.RegularExpressions;

namespace PioFvlm.Bench.Eval.Runner;

/// <summary>
/// The run's plots, as PNG: score vs average visual tokens, and prefill speedup (vs the unpruned reference) vs average
/// visual tokens. One series per method family: a method key "PioFvlm-64" belongs to the family "PioFvlm" (a trailing
/// -number or @number is the budget), so runs of one method at several budgets form a line. Written atomically.
/// </summary>
public static partial class EvalPlots
{
    public const string ScoreFile = "score-vs-tokens.png";
    public const string SpeedupFile = "speedup-vs-tokens.png";

    [GeneratedRegex(@"[-@_]\d+(\.\d+)?%?$")]
    private static partial Regex BudgetSuffix();

    public static string Family(string method) => BudgetSuffix().Replace(method, "");

    /// <summary>The budget part of a method key ("PioFvlm-64" → "64"), or "" when the key names none.</summary>
    public static string Budget(string method) => BudgetSuffix().Match(method) is { Success: true } m ? m.Value[1..] : "";

    /// <summary>Writes both plots into <paramref name="directory"/>; returns their paths.</summary>
    public static IReadOnlyList<string> Write(IReadOnlyList<EvalReportRow> rows, string directory, string suffix, string title)
    {
        var reference = rows.FirstOrDefault(r => r.Method == RunConfigLoader.ReferenceMethod);
        var paths = new List<string>();
        var scored = rows.Where(r => r.Accuracy is double && !double.IsNaN(r.VisualTokens)).ToList();
        paths.Add(Save(Path.Combine(directory, Suffixed(ScoreFile, suffix)), $"{title}: score", TokensLabel, "score",
            scored.Select(r => (r.Method, r.VisualTokens, r.Accuracy!.Value))));
        if (reference is { PrefillMs: > 0 })
        {
            var timed = rows.Where(r => r.PrefillMs > 0 && !double.IsNaN(r.VisualTokens));
            paths.Add(Save(Path.Combine(directory, Suffixed(SpeedupFile, suffix)), $"{title}: prefill speedup", TokensLabel, "prefill speedup (x)",
                timed.Select(r => (r.Method, r.VisualTokens, reference.PrefillMs / r.PrefillMs))));
        }
        return paths;
    }

    static string Suffixed(string file, string suffix) =>
        suffix.Length == 0 ? file : Path.GetFileNameWithoutExtension(file) + suffix + Path.GetExtension(file);

    const string TokensLabel = "average visual tokens per decoder layer";

    /// <summary>A scatter PNG with one series per method family (a line through its budgets, ordered by x).</summary>
    public static string Save(string path, string title, string xLabel, string yLabel, IEnumerable<(string Method, double X, double Y)> points)
    {
        var plot = new ScottPlot.Plot();
        foreach (var family in points.GroupBy(p => Family(p.Method)).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var ordered = family.OrderBy(p => p.X).ToArray();
            var series = plot.Add.Scatter(ordered.Select(p => p.X).ToArray(), ordered.Select(p => p.Y).ToArray());
            series.LegendText = family.Key;
            series.MarkerSize = 8;
        }
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend();
        string temp = path + ".tmp.png";
        plot.SavePng(temp, 800, 500);
        File.Move(temp, path, overwrite: true);
        return path;
    }
}
