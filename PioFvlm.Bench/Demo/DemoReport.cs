using System.Globalization;
using System.Text;
using PioFvlm.Bench.Eval.Runner;

namespace PioFvlm.Bench.Demo;

/// <summary>One line of the demo table: a method's score overall and per question type, and its costs.</summary>
public sealed record DemoRow(string Method, string Budget, double Score, IReadOnlyDictionary<string, double> PerType,
                             double? Retention, double VisualTokens, double PrefillMs, double PrefillSpeedup, double PaperGflops, double KvMiB)
{
    /// <summary>Relevant-token recall (<see cref="RelevantRecall"/>); null where not measured (the blank-image control).</summary>
    public RecallSummary? Recall { get; init; }
}

/// <summary>
/// The demo's table: the unpruned model, then per budget PIO-FVLM with Random beside it and the other methods,
/// then the blank-image control; with chance levels per type; the relevant-token recall at the last layer beside the
/// score, and per stage and type in <see cref="RecallTable"/>. Markdown and CSV.
/// </summary>
public static class DemoReport
{
    /// <summary>Chance accuracy (percent) of a guess that ignores the image, per question type.</summary>
    public static IReadOnlyDictionary<string, double> Chance { get; } = new Dictionary<string, double>
    {
        [ShapesQuestionType.Exist] = 50, [ShapesQuestionType.Colour] = 25, [ShapesQuestionType.Count] = 100 / 3.0, [ShapesQuestionType.Position] = 50,
    };

    static readonly string[] MethodOrder = ["PioFvlm", "Random", "Oracle", "FastV", "DART", "VisionZip"];

    public static DemoRow Row(EvalReportRow r, IReadOnlyDictionary<string, double> metrics, double referencePrefillMs, string? name = null) =>
        new(name ?? r.Method, EvalPlots.Budget(r.Method), metrics["accuracy"],
            ShapesQuestionType.All.ToDictionary(t => t, t => metrics.GetValueOrDefault($"{t}/accuracy", double.NaN)),
            r.RetentionPercent, r.VisualTokens, r.PrefillMs, r.PrefillMs > 0 ? referencePrefillMs / r.PrefillMs : double.NaN,
            r.PaperFlops / 1e9, r.KvMiB);

    /// <summary>KeepAll first; then budgets from largest to smallest, each in <see cref="MethodOrder"/>; controls last.</summary>
    public static IReadOnlyList<DemoRow> Order(IReadOnlyList<DemoRow> rows, IReadOnlyList<DemoRow> controls)
    {
        static double BudgetValue(string b) => double.TryParse(b.TrimEnd('%'), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.MaxValue;
        static int Rank(string method)
        {
            int i = Array.IndexOf(MethodOrder, EvalPlots.Family(method));
            return i < 0 ? MethodOrder.Length : i;
        }
        return rows.OrderByDescending(r => BudgetValue(r.Budget)).ThenBy(r => Rank(r.Method)).ThenBy(r => r.Method, StringComparer.Ordinal)
                   .Concat(controls).ToList();
    }

    static readonly string[] Header =
        ["method", "budget", "score %", "exist", "colour", "count", "position", "recall %", "retention %", "visual tokens / layer", "prefill ms", "prefill speedup", "FLOPs (paper, G)", "KV MiB"];

    static string[] Cells(DemoRow r) =>
    [
        r.Method, r.Budget.Length == 0 ? "100%" : r.Budget.TrimEnd('%') + "%", F(r.Score, "F1"),
        .. ShapesQuestionType.All.Select(t => F(r.PerType[t], "F1")), F(r.Recall?.LastLayer, "F1"),
        F(r.Retention, "F1"), F(r.VisualTokens, "F1"), F(r.PrefillMs, "F2"), (double.IsNaN(r.PrefillSpeedup) ? "–" : F(r.PrefillSpeedup, "F2") + "x"), F(r.PaperGflops, "F3"), F(r.KvMiB, "F3"),
    ];

    static string F(double? v, string format) => v is double d && !double.IsNaN(d) ? d.ToString(format, CultureInfo.InvariantCulture) : "–";

    public static string Table(IReadOnlyList<DemoRow> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| " + string.Join(" | ", Header) + " |");
        sb.AppendLine("|" + string.Concat(Header.Select((_, i) => i < 2 ? "---|" : "---:|")));
        foreach (var r in rows) sb.AppendLine("| " + string.Join(" | ", Cells(r)) + " |");
        sb.AppendLine("| chance (no image) | | | " + string.Join(" | ", ShapesQuestionType.All.Select(t => F(Chance[t], "F1"))) + " | | | | | | | |");
        return sb.ToString();
    }

    /// <summary>The CSV: the table's columns, then recall at the last layer per type and recall per stage
    /// (<c>L1 80.0 / L3 61.2</c>).</summary>
    public static string Csv(IReadOnlyList<DemoRow> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine(string.Join(",", Header.Concat(ShapesQuestionType.All.Select(t => $"recall {t}")).Append("recall per stage").Select(h => h.Replace(",", "", StringComparison.Ordinal).Replace(' ', '_'))));
        foreach (var r in rows)
            sb.AppendLine(string.Join(",", Cells(r).Select(c => c.TrimEnd('x'))
                .Concat(ShapesQuestionType.All.Select(t => F(r.Recall?.LastLayerPerType.GetValueOrDefault(t, double.NaN), "F1")))
                .Append(StagesCell(r.Recall))));
        return sb.ToString();
    }

    static string StagesCell(RecallSummary? recall) =>
        recall is null ? "–" : recall.Stages.Count == 0 ? "unpruned" : string.Join(" / ", recall.Stages.Select(s => $"{s.Stage} {F(s.Percent, "F1")}"));

    /// <summary>
    /// Relevant-token recall (%) per row: after each stage ("pre" = before the LLM, "L1" = after layer 1), at the last
    /// decoder layer, and at the last layer per question type. Rows without recall (the controls) are left out.
    /// </summary>
    public static string RecallTable(IReadOnlyList<DemoRow> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| method | budget | score % | recall after each stage | recall at last layer | " + string.Join(" | ", ShapesQuestionType.All) + " |");
        sb.AppendLine("|---|---|---:|---|---:|" + string.Concat(ShapesQuestionType.All.Select(_ => "---:|")));
        foreach (var r in rows.Where(r => r.Recall is not null))
            sb.AppendLine($"| {r.Method} | {Cells(r)[1]} | {F(r.Score, "F1")} | {StagesCell(r.Recall)} | {F(r.Recall!.LastLayer, "F1")} | " +
                          string.Join(" | ", ShapesQuestionType.All.Select(t => F(r.Recall.LastLayerPerType.GetValueOrDefault(t, double.NaN), "F1"))) + " |");
        return sb.ToString();
    }
}
