using PioFvlm.Bench.Eval.Datasets;

namespace PioFvlm.Bench.Eval.Runner;

/// <summary>
/// The runner's view of a LLaVA question jsonl, through <see cref="LlavaQuestionFile"/> (image paths resolved under the
/// image folder, default the question file's folder, and never outside it). Malformed lines are fatal, or skipped and
/// reported on <paramref name="warnings"/> when <paramref name="skipMalformed"/> (Run:Eval:SkipMalformed) is set.
/// </summary>
public sealed class LlavaQuestionJsonl(bool skipMalformed = false, TextWriter? warnings = null) : IEvalDataset
{
    public IReadOnlyList<EvalSample> Load(string questionFile, string? imageFolder)
    {
        if (!File.Exists(questionFile)) throw new FileNotFoundException($"question file not found: {questionFile}", questionFile);
        imageFolder ??= Path.GetDirectoryName(Path.GetFullPath(questionFile))!;
        var result = LlavaQuestionFile.Read(questionFile, imageFolder, skipMalformed);
        foreach (var w in result.Warnings) warnings?.WriteLine($"skipped: {w}");
        return result.Samples;
    }
}
