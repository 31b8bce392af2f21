using System.Text.RegularExpressions;

namespace PioFvlm.Bench.Eval.Scoring;

/// <summary>Option-letter parsing as LLaVA's eval_science_qa.py: the exact letter, "X. ..." at the start, or one "The answer is X.".</summary>
public static partial class OptionLetter
{
    [GeneratedRegex("The answer is ([A-Z]).")] private static partial Regex AnswerIs();

    /// <returns>The letter, or null (the script's "FAILED").</returns>
    public static char? Parse(string text, string options)
    {
        if (text.Length == 1 && options.Contains(text[0])) return text[0];
        if (text.Length >= 3 && options.Contains(text[0]) && text[1..3] == ". ") return text[0];
        var found = AnswerIs().Matches(text);
        return found.Count == 1 ? found[0].Groups[1].Value[0] : null;
    }
}
