using System.Text.Json;

namespace PioFvlm.Bench.Eval.Datasets;

/// <summary>
/// LLaVA evaluation question jsonl (POPE, MME, GQA, TextVQA, VQAv2): <c>{"question_id","image","text","category"?}</c>.
/// Images are resolved under the image folder; a path escaping it is an error of that line.
/// </summary>
public static class LlavaQuestionFile
{
    /// <summary>The questions read and, when <paramref name="skipMalformed"/> is on, one warning per skipped line.</summary>
    public sealed record Result(List<EvalSample> Samples, List<string> Warnings);

    /// <param name="path">The jsonl file.</param>
    /// <param name="imageFolder">Folder the <c>image</c> names are relative to; null keeps the names unresolved.</param>
    /// <param name="skipMalformed">false: the first malformed line throws <see cref="EvalDataException"/>;
    /// true: malformed lines are skipped and listed in <see cref="Result.Warnings"/> (never silently).</param>
    public static Result Read(string path, string? imageFolder, bool skipMalformed = false)
    {
        var samples = new List<EvalSample>();
        var warnings = new List<string>();
        var seen = new HashSet<string>();
        foreach (var (line, text) in JsonFields.Lines(path))
        {
            try
            {
                var sample = Parse(text, imageFolder);
                if (!seen.Add(sample.QuestionId)) throw new FormatException($"duplicate question_id '{sample.QuestionId}'");
                samples.Add(sample);
            }
            catch (Exception e) when (e is JsonException or FormatException)
            {
                var error = EvalDataException.AtLine(path, line, e.Message, e);
                if (!skipMalformed) throw error;
                warnings.Add(error.Message);
            }
        }
        return new Result(samples, warnings);
    }

    static EvalSample Parse(string text, string? imageFolder)
    {
        using var doc = JsonDocument.Parse(text);
        var o = doc.RootElement;
        if (o.ValueKind != JsonValueKind.Object) throw new FormatException($"expected a json object, got {o.ValueKind}");
        string id = JsonFields.Required(o, "question_id");
        string question = JsonFields.Required(o, "text");
        string? image = JsonFields.Text(o, "image");
        string? imagePath = image == null ? null : imageFolder == null ? image : ImagePaths.Resolve(imageFolder, image);
        var extra = new Dictionary<string, string>();
        foreach (var p in o.EnumerateObject())
            if (p.Name is not ("question_id" or "text" or "image" or "category")) extra[p.Name] = JsonFields.AnyAsText(p.Value);
        return new EvalSample(id, question, imagePath, JsonFields.Text(o, "category"), extra);
    }
}
