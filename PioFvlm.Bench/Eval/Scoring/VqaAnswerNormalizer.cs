using System.Text;
using System.Text.RegularExpressions;

namespace PioFvlm.Bench.Eval.Scoring;

/// <summary>
/// The VQA / EvalAI answer normalisation (used by the official VQAv2 evaluation and m4c's TextVQA evaluator):
/// lowercase, drop ',' and '?', split "'s"; punctuation removed or turned into spaces; periods not before a digit
/// removed; number words to digits; articles removed; apostrophe-less contractions restored.
/// </summary>
public static partial class VqaAnswerNormalizer
{
    static readonly string[] Punctuation = [";", "/", "[", "]", "\"", "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"];

    static readonly Dictionary<string, string> Numbers = new()
    {
        ["none"] = "0", ["zero"] = "0", ["one"] = "1", ["two"] = "2", ["three"] = "3", ["four"] = "4", ["five"] = "5",
        ["six"] = "6", ["seven"] = "7", ["eight"] = "8", ["nine"] = "9", ["ten"] = "10",
    };

    static readonly HashSet<string> Articles = ["a", "an", "the"];

    // Lowercase keys only: the text is lowercased before this table is consulted.
    static readonly Dictionary<string, string> Contractions = new()
    {
        ["aint"] = "ain't", ["arent"] = "aren't", ["cant"] = "can't", ["couldve"] = "could've", ["couldnt"] = "couldn't",
        ["couldn'tve"] = "couldn't've", ["couldnt've"] = "couldn't've", ["didnt"] = "didn't", ["doesnt"] = "doesn't",
        ["dont"] = "don't", ["hadnt"] = "hadn't", ["hadnt've"] = "hadn't've", ["hadn'tve"] = "hadn't've",
        ["hasnt"] = "hasn't", ["havent"] = "haven't", ["hed"] = "he'd", ["hed've"] = "he'd've", ["he'dve"] = "he'd've",
        ["hes"] = "he's", ["howd"] = "how'd", ["howll"] = "how'll", ["hows"] = "how's", ["isnt"] = "isn't",
        ["itd"] = "it'd", ["itd've"] = "it'd've", ["it'dve"] = "it'd've", ["itll"] = "it'll", ["lets"] = "let's",
        ["maam"] = "ma'am", ["mightnt"] = "mightn't", ["mightve"] = "might've", ["mustnt"] = "mustn't",
        ["mustve"] = "must've", ["neednt"] = "needn't", ["notve"] = "not've", ["oclock"] = "o'clock",
        ["oughtnt"] = "oughtn't", ["shant"] = "shan't", ["shed've"] = "she'd've", ["she'dve"] = "she'd've",
        ["shes"] = "she's", ["shouldve"] = "should've", ["shouldnt"] = "shouldn't", ["shouldnt've"] = "shouldn't've",
        ["shouldn'tve"] = "shouldn't've", ["somebodyd"] = "somebody'd", ["somebodys"] = "somebody's",
        ["someoned"] = "someone'd", ["someonell"] = "someone'll", ["someones"] = "someone's", ["somethingd"] = "something'd",
        ["somethingll"] = "something'll", ["thats"] = "that's", ["thered"] = "there'd", ["therere"] = "there're",
        ["theres"] = "there's", ["theyd"] = "they'd", ["theyll"] = "they'll", ["theyre"] = "they're", ["theyve"] = "they've",
        ["twas"] = "'twas", ["wasnt"] = "wasn't", ["wed've"] = "we'd've", ["we'dve"] = "we'd've", ["weve"] = "we've",
        ["werent"] = "weren't", ["whatll"] = "what'll", ["whatre"] = "what're", ["whats"] = "what's", ["whatve"] = "what've",
        ["whens"] = "when's", ["whered"] = "where'd", ["wheres"] = "where's", ["whereve"] = "where've", ["whod"] = "who'd",
        ["whod've"] = "who'd've", ["who'dve"] = "who'd've", ["wholl"] = "who'll", ["whos"] = "who's", ["whove"] = "who've",
        ["whyll"] = "why'll", ["whyre"] = "why're", ["whys"] = "why's", ["wont"] = "won't", ["wouldve"] = "would've",
        ["wouldnt"] = "wouldn't", ["wouldnt've"] = "wouldn't've", ["wouldn'tve"] = "wouldn't've", ["yall"] = "y'all",
        ["yall'll"] = "y'all'll", ["y'allll"] = "y'all'll", ["youd"] = "you'd", ["youd've"] = "you'd've",
        ["you'dve"] = "you'd've", ["youll"] = "you'll", ["youre"] = "you're", ["youve"] = "you've",
        // Entries of the EvalAI table that turn ordinary words into contractions ("well" → "we'll"): kept for fidelity.
        ["im"] = "i'm", ["shed"] = "she'd", ["shell"] = "she'll", ["wed"] = "we'd", ["well"] = "we'll",
        ["mightnt've"] = "mightn't've", ["somebodyd've"] = "somebody'd've", ["somebodyll"] = "somebody'll",
        ["someoned've"] = "someone'd've", ["somethingd've"] = "something'd've", ["thered've"] = "there'd've",
        ["theyd've"] = "they'd've",
    };

    [GeneratedRegex(@"(\d)(,)(\d)")] private static partial Regex DigitCommaDigit();
    [GeneratedRegex(@"\.(?!\d)")] private static partial Regex PeriodNotBeforeDigit();

    public static string Normalize(string answer)
    {
        string s = answer.ToLowerInvariant().Replace(",", "").Replace("?", "").Replace("'s", " 's").Trim();
        s = s.Replace('\n', ' ').Replace('\t', ' ').Trim();
        s = ProcessPunctuation(s);
        return ProcessDigitsAndArticles(s);
    }

    static string ProcessPunctuation(string input)
    {
        string output = input;
        bool digitComma = DigitCommaDigit().IsMatch(input);
        foreach (var p in Punctuation)
        {
            // As the official code: the test looks at the input text, the replacement acts on the running output.
            bool remove = input.Contains(p + " ") || input.Contains(" " + p) || digitComma;
            output = output.Replace(p, remove ? "" : " ");
        }
        return PeriodNotBeforeDigit().Replace(output, "");
    }

    static string ProcessDigitsAndArticles(string input)
    {
        var words = new List<string>();
        foreach (var raw in input.ToLowerInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            string w = Numbers.GetValueOrDefault(raw, raw);
            if (!Articles.Contains(w)) words.Add(Contractions.GetValueOrDefault(w, w));
        }
        return string.Join(' ', words);
    }
}
