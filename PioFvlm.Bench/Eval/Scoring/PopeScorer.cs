using System.Text.Json;
using PioFvlm.Bench.Eval.Datasets;

namespace PioFvlm.Bench.Eval.Scoring;

/// <summary>
/// POPE as LLaVA's eval_pope.py scores it: answers are split by the question file's category; each category's
/// answers, in answer-file order, are paired with the lines of <c>coco_pope_{category}.json</c> in the annotations
/// folder, in file order (the script pairs by position, not by id). Metrics are percentages; main = mean F1 over the
/// categories (the figure papers report as "POPE").
/// </summary>
public sealed class PopeScorer : IBenchmarkScorer
{
    public string Name => "pope";

    /// <summary>
    /// eval_pope.py's rule: keep the text before the first '.', drop commas, split on single spaces; any word equal to
    /// "No", "no" or "not" means no, anything else yes.
    /// </summary>
    public static bool ParseYes(string text)
    {
        int dot = text.IndexOf('.');
        if (dot >= 0) text = text[..dot];
        var words = text.Replace(",", "").Split(' ');
        return !words.Any(w => w is "No" or "no" or "not");
    }

    public BenchmarkScore Score(IReadOnlyList<AnswerRecord> answers, ScoringInputs inputs)
    {
        if (inputs.Questions == null) throw new ArgumentException("pope needs the question file (--questions) for the categories");
        if (!Directory.Exists(inputs.Annotations)) throw new DirectoryNotFoundException($"POPE annotations folder not found: {inputs.Annotations}");
        var categoryOf = LlavaQuestionFile.Read(inputs.Questions, imageFolder: null).Samples
            .ToDictionary(s => s.QuestionId, s => s.Category);
        var labelFiles = Directory.GetFiles(inputs.Annotations, "coco_pope_*.json").Order(StringComparer.Ordinal).ToList();
        if (labelFiles.Count == 0) throw new FileNotFoundException($"no coco_pope_*.json in {inputs.Annotations}");

        var metrics = new Dictionary<string, double>();
        var f1s = new List<double>();
        var accs = new List<double>();
        foreach (var file in labelFiles)
        {
            string category = Path.GetFileNameWithoutExtension(file)["coco_pope_".Length..];
            var labels = ReadLabels(file);
            var preds = answers.Where(a => CategoryOf(categoryOf, a, inputs.Questions) == category).Select(a => ParseYes(a.Text)).ToList();
            if (preds.Count != labels.Count)
                throw new EvalDataException($"{file}: {labels.Count} labels but {preds.Count} answers of category '{category}'; POPE pairs them by position, so the answers must cover the whole category in question order");
            var c = new ConfusionCounts();
            for (int i = 0; i < preds.Count; i++) c.Add(preds[i], labels[i]);
            metrics[$"{category}/accuracy"] = 100 * c.Accuracy;
            metrics[$"{category}/precision"] = 100 * c.Precision;
            metrics[$"{category}/recall"] = 100 * c.Recall;
            metrics[$"{category}/f1"] = 100 * c.F1;
            metrics[$"{category}/yes_ratio"] = 100 * c.YesRatio;
            metrics[$"{category}/count"] = c.Total;
            f1s.Add(100 * c.F1);
            accs.Add(100 * c.Accuracy);
        }
        metrics["mean_f1"] = f1s.Average();
        metrics["mean_accuracy"] = accs.Average();
        return new BenchmarkScore(Name, "mean_f1", metrics["mean_f1"], metrics);
    }

    static string? CategoryOf(Dictionary<string, string?> categoryOf, AnswerRecord a, string questions) =>
        categoryOf.TryGetValue(a.QuestionId, out var c) ? c
            : throw new EvalDataException($"{questions}: no question with question_id '{a.QuestionId}' (from the answers)");

    static List<bool> ReadLabels(string file)
    {
        var labels = new List<bool>();
        foreach (var (line, text) in JsonFields.Lines(file))
        {
            try
            {
                using var doc = JsonDocument.Parse(text);
                labels.Add(JsonFields.Required(doc.RootElement, "label") != "no");
            }
            catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
            {
                throw EvalDataException.AtLine(file, line, e.Message, e);
            }
        }
        return labels;
    }

    /// <summary>Binary confusion counts with yes as the positive class; empty denominators give 0.</summary>
    sealed class ConfusionCounts
    {
        int _tp, _fp, _tn, _fn;
        public void Add(bool predYes, bool labelYes)
        {
            if (predYes && labelYes) _tp++;
            else if (predYes) _fp++;
            else if (!labelYes) _tn++;
            else _fn++;
        }
        public int Total => _tp + _fp + _tn + _fn;
        public double Accuracy => Ratio(_tp + _tn, Total);
        public double Precision => Ratio(_tp, _tp + _fp);
        public double Recall => Ratio(_tp, _tp + _fn);
        public double F1 => Precision + Recall == 0 ? 0 : 2 * Precision * Recall / (Precision + Recall);
        public double YesRatio => Ratio(_tp + _fp, Total);
        static double Ratio(int a, int b) => b == 0 ? 0 : (double)a / b;
    }
}
