namespace PioFvlm.Bench.Eval;

/// <summary>
/// One answer line in the LLaVA answers-jsonl format:
/// <c>{"question_id", "prompt", "text", "answer_id", "model_id", "metadata": {}}</c>.
/// </summary>
public sealed record AnswerRecord(
    string QuestionId,
    string Prompt,
    string Text,
    string AnswerId,
    string ModelId,
    IReadOnlyDictionary<string, string> Metadata);
