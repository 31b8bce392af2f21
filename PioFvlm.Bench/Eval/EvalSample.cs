namespace PioFvlm.Bench.Eval;

/// <summary>
/// One benchmark question as the LLaVA evaluation files give it: id, question text (without the image placeholder),
/// the image path resolved under the image folder (null for text-only questions), an optional category, and any other
/// fields the scorer or the prompt needs (e.g. ScienceQA choices, MMBench options).
/// </summary>
public sealed record EvalSample(
    string QuestionId,
    string Text,
    string? ImagePath,
    string? Category,
    IReadOnlyDictionary<string, string> Extra);
