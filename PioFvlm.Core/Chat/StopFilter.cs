namespace PioFvlm.Core.Chat;

/// <summary>
/// Streams text without the stop sequence: each pushed piece is released except a tail that could still grow into a
/// stop sequence; once a stop sequence appears, only the text before it is ever released.
/// </summary>
sealed class StopFilter(IReadOnlyList<string> stops)
{
    string _text = "";
    int _released;
    bool _stopped;

    /// <summary>The text that is now safe to show (may be empty).</summary>
    public string Push(string piece)
    {
        if (_stopped) return "";
        _text += piece;
        int stop = stops.Select(s => _text.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
        if (stop >= 0)
        {
            _stopped = true;
            return Release(stop);
        }
        return Release(_text.Length - LongestOpenPrefix());
    }

    /// <summary>What is held back at the end of the generation (no stop sequence completed it).</summary>
    public string Flush() => _stopped ? "" : Release(_text.Length);

    string Release(int upTo)
    {
        if (upTo <= _released) return "";
        string ready = _text[_released..upTo];
        _released = upTo;
        return ready;
    }

    /// <summary>Length of the longest end of the text that is a proper start of some stop sequence.</summary>
    int LongestOpenPrefix()
    {
        int best = 0;
        foreach (var s in stops)
            for (int n = Math.Min(s.Length - 1, _text.Length); n > best; n--)
                if (_text.AsSpan(_text.Length - n).SequenceEqual(s.AsSpan(0, n))) { best = n; break; }
        return best;
    }
}
