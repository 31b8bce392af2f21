using System.Globalization;

namespace PioFvlm.Bench.Demo;

/// <summary>Plots training-log.csv: answer loss, and validation accuracy per question type, against the step.</summary>
public static class TrainingCurves
{
    public const string LossFile = "training-loss.png";
    public const string AccuracyFile = "training-accuracy.png";

    /// <summary>Writes both plots into <paramref name="directory"/>; returns their paths.</summary>
    public static IReadOnlyList<string> Write(string csvPath, string directory)
    {
        var lines = File.ReadAllLines(csvPath);
        var header = lines[0].Split(',');
        var rows = lines.Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToList();
        int Column(string name) => Array.IndexOf(header, name) is int i and >= 0 ? i : throw new FormatException($"{csvPath}: no column '{name}'");
        var steps = rows.Select(r => r[Column("step")]).ToArray();

        var loss = new ScottPlot.Plot();
        loss.Add.Scatter(steps, rows.Select(r => r[Column("answer_loss")]).ToArray()).LegendText = "answer loss";
        loss.Add.Scatter(steps, rows.Select(r => r[Column("loss")]).ToArray()).LegendText = "total loss (with patch labels)";
        loss.Title("training loss (mean over each evaluation interval)");
        loss.XLabel("step");
        loss.ShowLegend();
        loss.SavePng(Path.Combine(directory, LossFile), 800, 450);
        var accuracy = new ScottPlot.Plot();
        foreach (var type in ShapesQuestionType.All.Append("all"))
            accuracy.Add.Scatter(steps, rows.Select(r => 100 * r[Column("val_" + type)]).ToArray()).LegendText = type;
        accuracy.Title("validation accuracy % (generator seed 2)");
        accuracy.XLabel("step");
        accuracy.ShowLegend();
        accuracy.SavePng(Path.Combine(directory, AccuracyFile), 800, 450);
        return [Path.Combine(directory, LossFile), Path.Combine(directory, AccuracyFile)];
    }
}
