namespace PioFvlm.Bench.Eval.Datasets;

/// <summary>A benchmark file (questions, answers, annotations) that cannot be read; the message names file and line.</summary>
public sealed class EvalDataException(string message, Exception? inner = null) : Exception(message, inner)
{
    public static EvalDataException AtLine(string file, int line, string what, Exception? inner = null) =>
        new($"{file}:{line}: {what}", inner);
}
