namespace PioFvlm.Bench.Eval.Datasets;

/// <summary>
/// MMBench TSV (header row; columns index, question, hint, A–D, answer, category, image as base64, ...) as samples:
/// QuestionId = index, Text = question, Category = category, Extra = hint, A–D (present options only), answer.
/// </summary>
public static class MmBenchTsv
{
    public static List<EvalSample> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"file not found: {path}", path);
        using var reader = new StreamReader(path);
        var header = reader.ReadLine()?.Split('\t') ?? throw new EvalDataException($"{path}: empty file");
        int Col(string name) => Array.IndexOf(header, name);
        int index = Col("index"), question = Col("question");
        if (index < 0 || question < 0) throw new EvalDataException($"{path}:1: header lacks 'index' or 'question' ({string.Join(", ", header)})");
        string[] extras = ["hint", "A", "B", "C", "D", "answer"];
        var samples = new List<EvalSample>();
        int n = 1;
        for (string? line; (line = reader.ReadLine()) != null;)
        {
            n++;
            if (line.Length == 0) continue;
            var f = line.Split('\t');
            if (f.Length != header.Length) throw EvalDataException.AtLine(path, n, $"{f.Length} fields, header has {header.Length}");
            var extra = new Dictionary<string, string>();
            foreach (var e in extras)
                if (Col(e) is var c and >= 0 && f[c].Length > 0 && f[c] != "nan") extra[e] = f[c];
            string? category = Col("category") is var k and >= 0 ? f[k] : null;
            if (Col("image") is var img and >= 0 && f[img].Length > 0 && f[img] != "nan") extra["image_base64"] = f[img];
            samples.Add(new EvalSample(f[index], f[question], null, category, extra));
        }
        return samples;
    }
}
