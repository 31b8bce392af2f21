namespace PioFvlm.Core.Text;

/// <summary>
/// Stands in for the tokenizer of a model folder that has none (e.g. a checkpoint saved by transformers without its
/// processor, checked with <c>pio-fvlm compare</c>): paths that work on token ids run; encoding or decoding text
/// throws a message naming the folder.
/// </summary>
public sealed class MissingTokenizer(string directory, int eosId, int vocabSize) : ITokenizer
{
    string Why => $"no tokenizer files in {directory} (tokenizer.json or tokenizer.model): text cannot be encoded or decoded";

    public IReadOnlyList<int> Encode(string text, bool addBos) => throw new InvalidOperationException(Why);
    public string Decode(IEnumerable<int> ids, bool skipSpecial = true) => throw new InvalidOperationException(Why);
    public int? BosId => null;
    public int EosId { get; } = eosId;
    public int? PadId => null;
    public int VocabSize { get; } = vocabSize;
    public int? TokenToId(string token) => null;
    public string? IdToToken(int id) => null;
}
