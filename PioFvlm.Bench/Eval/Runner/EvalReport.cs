using System.Globalization;
using System.Text;

namespace PioFvlm.Bench.Eval.Runner;

/// <summary>One method's line of the report (averages are per answer).</summary>
public sealed record EvalReportRow(string Method, int Answers, double? Accuracy, double? RetentionPercent, double VisualTokens,
                                   double PrefillMs, double TotalMs, double PaperFlops, double KvMiB, string? Refused = null);

/// <summary>
/// The report of a run: from answers files alone (the per-answer costs ride in their metadata), so it covers resumed
/// runs too. Retention = accuracy / the KeepAll reference's accuracy × 100. Written as markdown and CSV, atomically. A
/// method the model refused has its message in the last column.
/// </summary>
public static class EvalReport
{
    /// <param name="score">The benchmark score of one method's answers; null = <see cref="SimpleMatchScorer"/>.</param>
    public static IReadOnlyList<EvalReportRow> Rows(IReadOnlyList<(string Method, IReadOnlyList<AnswerRecord> Answers)> methods,
                                                    IReadOnlyList<EvalSample> questions, Func<IReadOnlyList<AnswerRecord>, double?>? score = null,
                                                    IReadOnlyDictionary<string, string>? refusals = null)
    {
        var rows = new List<EvalReportRow>();
        double? reference = null;
        foreach (var (method, answers) in methods)
        {
            double? accuracy = score != null ? score(answers) : SimpleMatchScorer.Accuracy(answers, questions);
            if (method == RunConfigLoader.ReferenceMethod) reference = accuracy;
            var metrics = answers.Select(a => SampleMetrics.FromMetadata(a.Metadata)).OfType<SampleMetrics>().ToList();
            double Avg(Func<SampleMetrics, double> f) => metrics.Count == 0 ? double.NaN : metrics.Average(f);
            rows.Add(new EvalReportRow(method, answers.Count, accuracy,
                accuracy is double acc && reference is double r && r > 0 ? 100 * acc / r : null,
                Avg(m => m.VisualTokens), Avg(m => m.PrefillMs), Avg(m => m.TotalMs), Avg(m => m.PaperFlops), Avg(m => m.KvBytes / 1048576.0),
                refusals?.GetValueOrDefault(method)));
        }
        return rows;
    }

    static readonly string[] Header = ["method", "budget", "answers", "score", "retention_%", "visual_tokens", "prefill_ms", "total_ms", "paper_gflops", "kv_mib", "refused"];

    static string[] Cells(EvalReportRow r) =>
    [
        r.Method, EvalPlots.Budget(r.Method), r.Answers.ToString(CultureInfo.InvariantCulture), F(r.Accuracy, "F4"), F(r.RetentionPercent, "F1"),
        F(r.VisualTokens, "F1"), F(r.PrefillMs, "F1"), F(r.TotalMs, "F1"), F(r.PaperFlops / 1e9, "F4"), F(r.KvMiB, "F3"), r.Refused ?? "",
    ];

    static string F(double? v, string format) => v is double d && !double.IsNaN(d) ? d.ToString(format, CultureInfo.InvariantCulture) : "";

    public static string Markdown(IReadOnlyList<EvalReportRow> rows, string title)
    {
        var sb = new StringBuilder();
        sb.Append("# ").AppendLine(title).AppendLine();
        sb.AppendLine("| " + string.Join(" | ", Header) + " |");
        sb.AppendLine("|" + string.Concat(Header.Select(_ => "---|")));
        foreach (var r in rows) sb.AppendLine("| " + string.Join(" | ", Cells(r).Select(c => c.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" "))) + " |");
        return sb.ToString();
    }

    public static string Csv(IReadOnlyList<EvalReportRow> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine(string.Join(",", Header));
        foreach (var r in rows) sb.AppendLine(string.Join(",", Cells(r).Select(c => c.Contains(',') || c.Contains('"') ? $"\"{c.Replace("\"", "\"\"")}\"" : c)));
        return sb.ToString();
    }
}
