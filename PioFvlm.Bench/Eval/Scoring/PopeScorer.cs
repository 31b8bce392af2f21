using System.Text.Json;
using PioFvlm.Bench.Eval.Datasets;

namespace PioFvlm.Bench.Eval.Scoring;

/// <summary>
/// POPE as LLaVA's eval_pope.py scores it: answers are split by the question file's category and each is paired with
/// a line of <c>coco_pope_{category}.json</c> in the annotations folder. eval_pope.py pairs by position in the answers
/// file, which is right only when that file is in question order; we pair each answer through its question instead:
/// the k-th question of a category in the question file goes with the k-th line of that category's annotations (the
/// order both files were written in), so a shuffled, resumed or merged answers file scores exactly like an ordered
/// one. Where both sides name an image, they must agree (a check that the pairing is right). Every question of a
/// scored category must be answered exactly once. Metrics are percentages; main = mean F1 over the categories (the
/// figure papers report as "POPE").
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

    sealed record Label(bool Yes, string? Image);

    public BenchmarkScore Score(IReadOnlyList<AnswerRecord> answers, ScoringInputs inputs)
    {
        if (inputs.Questions == null) throw new ArgumentException("pope needs the question file (--questions) for the categories");
        if (!Directory.Exists(inputs.Annotations)) throw new DirectoryNotFoundException($"POPE annotations folder not found: {inputs.Annotations}");
        var questions = LlavaQuestionFile.Read(inputs.Questions, imageFolder: null).Samples;
        var byCategory = questions.GroupBy(q => q.Category ?? "").ToDictionary(g => g.Key, g => g.ToList());
        var questionById = questions.ToDictionary(q => q.QuestionId);
        var labelFiles = Directory.GetFiles(inputs.Annotations, "coco_pope_*.json").Order(StringComparer.Ordinal).ToList();
        if (labelFiles.Count == 0) throw new FileNotFoundException($"no coco_pope_*.json in {inputs.Annotations}");

        var answerOf = new Dictionary<string, AnswerRecord>();
        foreach (var a in answers)
        {
            if (!questionById.ContainsKey(a.QuestionId))
                throw new EvalDataException($"{inputs.Questions}: no question with question_id '{a.QuestionId}' (from the answers)");
            if (!answerOf.TryAdd(a.QuestionId, a))
                throw new EvalDataException($"question_id '{a.QuestionId}' is answered twice in the answers file; merge or deduplicate it first");
        }

        var metrics = new Dictionary<string, double>();
        var f1s = new List<double>();
        var accs = new List<double>();
        foreach (var file in labelFiles)
        {
            string category = Path.GetFileNameWithoutExtension(file)["coco_pope_".Length..];
            var labels = ReadLabels(file);
            var inCategory = byCategory.GetValueOrDefault(category) ?? [];
            if (inCategory.Count != labels.Count)
                throw new EvalDataException($"{file}: {labels.Count} labels but {inCategory.Count} questions of category '{category}' in {inputs.Questions}; the k-th question of a category goes with the k-th label");
            var c = new ConfusionCounts();
            for (int k = 0; k < labels.Count; k++)
            {
                var q = inCategory[k];
                if (labels[k].Image is { } li && q.ImagePath is { } qi && li != qi)
                    throw new EvalDataException($"{file}: label {k + 1} is for image '{li}' but question '{q.QuestionId}' (question {k + 1} of category '{category}') shows '{qi}'; the question file and the annotations do not match");
                if (!answerOf.TryGetValue(q.QuestionId, out var a))
                    throw new EvalDataException($"{file}: question '{q.QuestionId}' of category '{category}' has no answer ({inCategory.Count(x => !answerOf.ContainsKey(x.QuestionId))} of {inCategory.Count} unanswered); POPE scores whole categories");
                c.Add(ParseYes(a.Text), labels[k].Yes);
            }
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

    static List<Label> ReadLabels(string file)
    {
        var labels = new List<Label>();
        foreach (var (line, text) in JsonFields.Lines(file))
        {
            try
            {
                using var doc = JsonDocument.Parse(text);
                labels.Add(new Label(JsonFields.Required(doc.RootElement, "label") != "no", JsonFields.Text(doc.RootElement, "image")));
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
