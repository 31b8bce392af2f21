namespace PioFvlm.Core.Text;

/// <summary>One piece of input text: either plain text (<see cref="Token"/> null) or a matched added token.</summary>
internal readonly record struct TextSegment(string Text, int Offset, AddedToken? Token);

/// <summary>
/// Splits raw text on added tokens before the vocabulary model sees it, the way HF tokenizers do:
/// leftmost match wins, the longest content wins at equal start, lstrip/rstrip swallow adjacent whitespace.
/// </summary>
internal sealed class AddedTokenSplitter
{
    readonly AddedToken[] _longestFirst;

    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        _longestFirst = tokens.Where(t => t.Content.Length > 0).OrderByDescending(t => t.Content.Length).ToArray();
    }

    public IReadOnlyList<AddedToken> Tokens => _longestFirst;

    public List<TextSegment> Split(string text)
    {
        var segments = new List<TextSegment>();
        int textStart = 0, i = 0;
        while (i < text.Length)
        {
            var match = MatchAt(text, i);
            if (match == null) { i++; continue; }

            int textEnd = i;
            if (match.LStrip) while (textEnd > textStart && char.IsWhiteSpace(text[textEnd - 1])) textEnd--;
            if (textEnd > textStart) segments.Add(new TextSegment(text[textStart..textEnd], textStart, null));
            segments.Add(new TextSegment(match.Content, i, match));

            i += match.Content.Length;
            if (match.RStrip) while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
            textStart = i;
        }
        if (textStart < text.Length) segments.Add(new TextSegment(text[textStart..], textStart, null));
        return segments;
    }

    AddedToken? MatchAt(string text, int index)
    {
        foreach (var t in _longestFirst)
            if (index + t.Content.Length <= text.Length && string.CompareOrdinal(text, index, t.Content, 0, t.Content.Length) == 0)
                return t;
        return null;
    }
}
