namespace PioFvlm.Core.Text;

/// <summary>
/// The tokenizer of a model folder that has no tokenizer files (a weights-only checkpoint compared by ids, or a model
/// built with random weights for measurements): the special ids come from the model config, so prompts given as ids,
/// prefill and greedy decoding work; encoding or decoding text throws, naming the folder. Every id is unknown to it
/// (<see cref="IdToToken"/> is null), so no text is ever streamed.
/// </summary>
public sealed class MissingTokenizer(string folder, int? bosId, int eosId, int? padId, int vocabSize) : ITokenizer
{
    public string Folder { get; } = folder;
    public int? BosId { get; } = bosId;
    public int EosId { get; } = eosId;
    public int? PadId { get; } = padId;
    public int VocabSize { get; } = vocabSize;

    /// <summary>Always throws: there is no vocabulary to encode with.</summary>
    public IReadOnlyList<int> Encode(string text, bool addBos) => throw Missing("encoded");

    /// <summary>Always throws: there is no vocabulary to decode with.</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecial = true) => throw Missing("decoded");

    public int? TokenToId(string token) => null;
    public string? IdToToken(int id) => null;

    InvalidOperationException Missing(string what) => new(
        $"no tokenizer files in {Folder} (tokenizer.json or tokenizer.model): text cannot be {what}; only token ids can be used");
}
