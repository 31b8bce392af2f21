using System.Text.Json;

namespace PioFvlm.Bench.Eval.Runner;

/// <summary>
/// The LLaVA question jsonl: one <c>{"question_id", "image", "text", "category"?, ...}</c> per line; other fields (e.g.
/// <c>answer</c>, <c>label</c>) go to <see cref="EvalSample.Extra"/> as strings. A minimal reader for the runner; the
/// benchmark loaders in Eval/Datasets replace it.
/// </summary>
public sealed class LlavaQuestionJsonl : IEvalDataset
{
    public IReadOnlyList<EvalSample> Load(string questionFile, string? imageFolder)
    {
        if (!File.Exists(questionFile)) throw new FileNotFoundException($"question file not found: {questionFile}", questionFile);
        imageFolder ??= Path.GetDirectoryName(Path.GetFullPath(questionFile))!;
        var samples = new List<EvalSample>();
        var seen = new HashSet<string>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(questionFile))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string where = $"{questionFile}:{lineNumber}";
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException e) { throw new FormatException($"{where}: not valid JSON: {e.Message}", e); }
            using (doc)
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object) throw new FormatException($"{where}: each line must be a JSON object");
                var fields = root.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText());
                string id = fields.GetValueOrDefault("question_id") ?? throw new FormatException($"{where}: no question_id");
                string text = fields.GetValueOrDefault("text") ?? throw new FormatException($"{where}: no text");
                if (!seen.Add(id)) throw new FormatException($"{where}: question_id '{id}' appears twice");
                string? image = fields.GetValueOrDefault("image");
                var extra = fields.Where(f => f.Key is not ("question_id" or "text" or "image" or "category"))
                                  .ToDictionary(f => f.Key, f => f.Value);
                samples.Add(new EvalSample(id, text, image is null ? null : Path.Combine(imageFolder, image),
                                           fields.GetValueOrDefault("category"), extra));
            }
        }
        return samples;
    }
}
