using System.Text;

namespace PioFvlm.Core.Text;

/// <summary>
/// The HF "BPE" model with byte fallback: a word is split into Unicode characters (unknown ones become their
/// UTF-8 byte tokens "&lt;0xXX&gt;"), then the adjacent pair with the lowest merge rank is merged, leftmost first on
/// ties, until no pair has a merge. A heap over pairs keeps this O(n log n) even for long unsplit prompts.
/// </summary>
internal sealed class BpeModel
{
    readonly Dictionary<string, int> _vocab;
    readonly Dictionary<(int Left, int Right), (int Rank, int Merged)> _merges;
    readonly int? _unkId;
    readonly bool _byteFallback;
    readonly bool _fuseUnk;
    readonly int[] _byteIds; // -1 where the vocabulary lacks "<0xXX>"

    public BpeModel(Dictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges, int? unkId, bool byteFallback, bool fuseUnk, string sourceName)
    {
        _vocab = vocab;
        _unkId = unkId;
        _byteFallback = byteFallback;
        _fuseUnk = fuseUnk;
        _merges = new Dictionary<(int, int), (int, int)>(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (l, r) = merges[rank];
            if (!vocab.TryGetValue(l, out int li) || !vocab.TryGetValue(r, out int ri) || !vocab.TryGetValue(l + r, out int mi))
                throw new TokenizerFormatException(sourceName, $"model.merges[{rank}] = \"{l} {r}\" names a piece missing from model.vocab");
            _merges.TryAdd((li, ri), (rank, mi)); // HF keeps the first rank of a duplicated pair
        }
        _byteIds = new int[256];
        for (int b = 0; b < 256; b++) _byteIds[b] = vocab.TryGetValue(ByteToken.Name((byte)b), out int id) ? id : -1;
    }

    public void EncodeWord(string word, List<int> output)
    {
        var ids = InitialSymbols(word);
        if (ids.Count == 0) return;
        int n = ids.Count;
        var next = new int[n];
        var prev = new int[n];
        var alive = new bool[n];
        for (int i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; alive[i] = true; }

        var heap = new PriorityQueue<(int Pos, int LeftId, int RightPos, int RightId), (int Rank, int Pos)>();
        void Push(int pos)
        {
            int right = next[pos];
            if (right < 0) return;
            if (_merges.TryGetValue((ids[pos], ids[right]), out var m)) heap.Enqueue((pos, ids[pos], right, ids[right]), (m.Rank, pos));
        }
        for (int i = 0; i < n - 1; i++) Push(i);

        while (heap.TryDequeue(out var pair, out _))
        {
            var (pos, leftId, right, rightId) = pair;
            // Stale entries: one side was merged away or changed since the pair was queued.
            if (!alive[pos] || !alive[right] || next[pos] != right || ids[pos] != leftId || ids[right] != rightId) continue;
            ids[pos] = _merges[(leftId, rightId)].Merged;
            alive[right] = false;
            next[pos] = next[right];
            if (next[pos] >= 0) prev[next[pos]] = pos;
            if (prev[pos] >= 0) Push(prev[pos]);
            Push(pos);
        }
        for (int i = 0; i >= 0; i = next[i]) output.Add(ids[i]);
    }

    List<int> InitialSymbols(string word)
    {
        var ids = new List<int>(word.Length);
        bool lastWasUnk = false;
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in word.EnumerateRunes())
        {
            if (_vocab.TryGetValue(rune.ToString(), out int id)) { ids.Add(id); lastWasUnk = false; continue; }
            if (_byteFallback)
            {
                int len = rune.EncodeToUtf8(utf8);
                bool allKnown = true;
                for (int b = 0; b < len; b++) allKnown &= _byteIds[utf8[b]] >= 0;
                if (allKnown)
                {
                    for (int b = 0; b < len; b++) ids.Add(_byteIds[utf8[b]]);
                    lastWasUnk = false;
                    continue;
                }
            }
            if (_unkId is not int unk)
                throw new ArgumentException($"Character U+{rune.Value:X4} is not in the vocabulary and the tokenizer has no unk token");
            if (!(_fuseUnk && lastWasUnk)) ids.Add(unk);
            lastWasUnk = true;
        }
        return ids;
    }
}
