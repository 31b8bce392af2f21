namespace PioFvlm.Core.Text;

/// <summary>
/// Turns generated ids into text as they arrive. Each <see cref="Push"/> decodes the whole sequence so far (so the
/// tokenizer's own rules for leading spaces and byte tokens apply) and returns only the new characters; while the
/// text ends in U+FFFD, the ids so far end inside a UTF-8 sequence spelled with byte tokens, so the text is held
/// back for up to three more ids (the longest a UTF-8 sequence can still be missing).
/// </summary>
public sealed class StreamingDecoder(ITokenizer tokenizer, bool skipSpecial = true)
{
    readonly List<int> _ids = [];
    int _emitted;
    int _heldBack;

    /// <summary>All text returned so far.</summary>
    public string Text { get; private set; } = "";

    /// <summary>Adds one id and returns the text it completes (often empty while a byte sequence is open).</summary>
    public string Push(int id)
    {
        _ids.Add(id);
        string text = tokenizer.Decode(_ids, skipSpecial);
        if (text.EndsWith('\uFFFD') && _heldBack < 3)
        {
            _heldBack++;
            return "";
        }
        _heldBack = 0;
        return Emit(text);
    }

    /// <summary>Returns whatever is still held back (e.g. an unfinished byte sequence at the end of generation).</summary>
    public string Flush()
    {
        _heldBack = 0;
        return Emit(tokenizer.Decode(_ids, skipSpecial));
    }

    string Emit(string text)
    {
        if (text.Length <= _emitted) return "";
        string fresh = text[_emitted..];
        _emitted = text.Length;
        Text += fresh;
        return fresh;
    }
}
