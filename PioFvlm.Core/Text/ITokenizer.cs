namespace PioFvlm.Core.Text;

/// <summary>
/// A text tokenizer as the models need it: ids in, ids out, plus the few special ids generation uses.
/// Implementations: <see cref="LlamaTokenizerJson"/> (HF tokenizer.json) and
/// <see cref="SentencePieceLlamaTokenizer"/> (SentencePiece tokenizer.model); <see cref="TokenizerLoader"/> picks one.
/// </summary>
public interface ITokenizer
{
    /// <summary>Encodes <paramref name="text"/>; with <paramref name="addBos"/> the BOS id comes first (even for empty
    /// text) when the tokenizer has one. EOS is never added.</summary>
    IReadOnlyList<int> Encode(string text, bool addBos);

    /// <summary>Decodes ids to text; with <paramref name="skipSpecial"/> special ids (BOS, EOS, UNK, added special tokens) are left out.</summary>
    string Decode(IEnumerable<int> ids, bool skipSpecial = true);

    /// <summary>The beginning-of-sequence id, or null for tokenizers without one (Qwen2's byte-level BPE): prompt
    /// encoders prepend it only when present.</summary>
    int? BosId { get; }
    int EosId { get; }
    int? PadId { get; }

    /// <summary>One more than the largest id the tokenizer can produce or name (base vocabulary plus added tokens).</summary>
    int VocabSize { get; }

    int? TokenToId(string token);
    string? IdToToken(int id);
}
