using System.Text;
using System.Text.Json;
using PioFvlm.Core.Text;

namespace PioFvlm.Tests.Text;

/// <summary>
/// Writes a SentencePiece ModelProto (sentencepiece_model.proto, proto2) for a LLaMA-style vocabulary, so
/// <see cref="SentencePieceLlamaTokenizer"/> can be tested without a downloaded tokenizer.model. Pieces keep their
/// ids. SentencePiece BPE merges the pair whose result has the highest score, so a piece's score is minus the rank of
/// the first tokenizer.json merge that makes it (LLaMA's whitespace runs "▁▁"… come late in the merges although their
/// ids are low, so the id alone would not do); pieces no merge makes score 0 (they are only ever single characters). Trainer: BPE, byte_fallback; normalizer: "identity", dummy prefix on,
/// extra whitespace kept (spec llava.md §7.1). Only the fields a reader needs are written.
/// </summary>
internal static class SentencePieceModelWriter
{
    const int Normal = 1, Unknown = 2, Control = 3, Byte = 6;

    public static byte[] FromTokenizerJson(string tokenizerJsonPath, ITokenizer source, int pieceCount)
    {
        var firstRank = new Dictionary<string, int>(StringComparer.Ordinal);
        using (var doc = JsonDocument.Parse(File.ReadAllBytes(tokenizerJsonPath)))
        {
            int rank = 0;
            foreach (var m in doc.RootElement.GetProperty("model").GetProperty("merges").EnumerateArray())
                firstRank.TryAdd(m.GetString()!.Replace(" ", ""), rank++);
        }
        var model = new MemoryStream();
        for (int id = 0; id < pieceCount; id++)
        {
            string piece = source.IdToToken(id) ?? throw new InvalidOperationException($"No piece for id {id}");
            int type = id == 0 ? Unknown : id is 1 or 2 ? Control : piece.Length == 6 && piece.StartsWith("<0x") ? Byte : Normal;
            var p = new MemoryStream();
            WriteString(p, 1, piece);
            WriteFloat(p, 2, type == Normal && firstRank.TryGetValue(piece, out int r) ? -r - 1 : 0f);
            WriteVarint(p, 3, type);
            WriteMessage(model, 1, p);
        }
        var trainer = new MemoryStream();
        WriteVarint(trainer, 3, 2);               // model_type = BPE
        WriteVarint(trainer, 4, pieceCount);      // vocab_size
        WriteVarint(trainer, 35, 1);              // byte_fallback
        WriteMessage(model, 2, trainer);
        var normalizer = new MemoryStream();
        WriteString(normalizer, 1, "identity");   // name
        WriteVarint(normalizer, 3, 1);            // add_dummy_prefix
        WriteVarint(normalizer, 4, 0);            // remove_extra_whitespaces
        WriteVarint(normalizer, 5, 1);            // escape_whitespaces
        WriteMessage(model, 3, normalizer);
        return model.ToArray();
    }

    static void Tag(Stream s, int field, int wireType) => Varint(s, (ulong)((field << 3) | wireType));

    static void Varint(Stream s, ulong v)
    {
        while (v >= 0x80) { s.WriteByte((byte)(v | 0x80)); v >>= 7; }
        s.WriteByte((byte)v);
    }

    static void WriteVarint(Stream s, int field, int value) { Tag(s, field, 0); Varint(s, (ulong)(long)value); }

    static void WriteFloat(Stream s, int field, float value) { Tag(s, field, 5); s.Write(BitConverter.GetBytes(value)); }

    static void WriteString(Stream s, int field, string value) => WriteBytes(s, field, Encoding.UTF8.GetBytes(value));

    static void WriteMessage(Stream s, int field, MemoryStream message) => WriteBytes(s, field, message.ToArray());

    static void WriteBytes(Stream s, int field, byte[] bytes) { Tag(s, field, 2); Varint(s, (ulong)bytes.Length); s.Write(bytes); }
}
