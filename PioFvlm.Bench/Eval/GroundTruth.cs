using System.Text.Json;
using PioFvlm.Bench.Eval.Datasets;

namespace PioFvlm.Bench.Eval;

/// <summary>
/// A question's ground-truth relevant visual tokens, where its question file has them (the shapes demo writes
/// <see cref="RelevantField"/>: indices among the visual tokens the tower produces, row-major patches). Read only by the
/// eval runner, for recall and for the Oracle control; no pruning method ever sees it.
/// </summary>
public static class GroundTruth
{
    public const string RelevantField = "relevant_patches";

    /// <summary>The relevant indices of <paramref name="q"/>, ascending and distinct, or null when it has none recorded.</summary>
    public static long[]? Relevant(EvalSample q)
    {
        if (!q.Extra.TryGetValue(RelevantField, out var text)) return null;
        long[] values;
        try { values = JsonSerializer.Deserialize<long[]>(text) ?? throw new JsonException("null"); }
        catch (JsonException e) { throw new EvalDataException($"question {q.QuestionId}: {RelevantField} must be an array of integers, got {text}", e); }
        if (values.Any(v => v < 0) || values.Zip(values.Skip(1)).Any(p => p.First >= p.Second))
            throw new EvalDataException($"question {q.QuestionId}: {RelevantField} must be ascending distinct non-negative indices, got {text}");
        return values;
    }
}
