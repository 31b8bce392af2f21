using System.Text.Json;

namespace PioFvlm.Bench.Eval.Datasets;

/// <summary>
/// LLaVA answers jsonl: one <c>{"question_id","prompt","text","answer_id","model_id","metadata":{}}</c> per line.
/// question_id is kept as a string because files in the wild use numbers (POPE, VQAv2) and strings (GQA, MMBench).
/// </summary>
public static class AnswersFile
{
    /// <summary>Reads every answer; any malformed line is fatal and named by file and line.</summary>
    public static List<AnswerRecord> Read(string path)
    {
        var answers = new List<AnswerRecord>();
        foreach (var (line, text) in JsonFields.Lines(path))
        {
            try
            {
                using var doc = JsonDocument.Parse(text);
                var o = doc.RootElement;
                if (o.ValueKind != JsonValueKind.Object) throw new FormatException($"expected a json object, got {o.ValueKind}");
                var metadata = new Dictionary<string, string>();
                if (o.TryGetProperty("metadata", out var m) && m.ValueKind == JsonValueKind.Object)
                    foreach (var p in m.EnumerateObject()) metadata[p.Name] = JsonFields.AnyAsText(p.Value);
                answers.Add(new AnswerRecord(
                    JsonFields.Required(o, "question_id"),
                    JsonFields.Text(o, "prompt") ?? "",
                    JsonFields.Text(o, "text") ?? throw new FormatException("missing field 'text'"),
                    JsonFields.Text(o, "answer_id") ?? "",
                    JsonFields.Text(o, "model_id") ?? "",
                    metadata));
            }
            catch (Exception e) when (e is JsonException or FormatException)
            {
                throw EvalDataException.AtLine(path, line, e.Message, e);
            }
        }
        return answers;
    }

    /// <summary>
    /// Writes answers one per line. A question_id that is a plain integer is written as a json number (as LLaVA's
    /// scripts do for integer ids), any other as a string, so LLaVA's own scorers can read the file too.
    /// </summary>
    public static void Write(string path, IEnumerable<AnswerRecord> answers)
    {
        using var stream = File.Create(path);
        foreach (var a in answers) WriteLine(stream, a);
    }

    /// <summary>Appends one answer (for writing as answers are generated).</summary>
    public static void Append(string path, AnswerRecord answer)
    {
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write);
        WriteLine(stream, answer);
    }

    static void WriteLine(Stream stream, AnswerRecord a)
    {
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (IsPlainInteger(a.QuestionId)) w.WriteNumber("question_id", long.Parse(a.QuestionId));
            else w.WriteString("question_id", a.QuestionId);
            w.WriteString("prompt", a.Prompt);
            w.WriteString("text", a.Text);
            w.WriteString("answer_id", a.AnswerId);
            w.WriteString("model_id", a.ModelId);
            w.WriteStartObject("metadata");
            foreach (var (k, v) in a.Metadata) w.WriteString(k, v);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        stream.Write("\n"u8);
    }

    static bool IsPlainInteger(string s) =>
        s.Length is > 0 and <= 18 && s.All(char.IsAsciiDigit) && (s.Length == 1 || s[0] != '0');
}
