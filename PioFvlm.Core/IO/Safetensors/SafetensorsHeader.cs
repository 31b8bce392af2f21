using System.Text.Json;
using static TorchSharp.torch;

namespace PioFvlm.Core.IO.Safetensors;

/// <summary>One tensor as a safetensors header describes it: byte range relative to the start of the data section.</summary>
internal sealed record HeaderTensor(string Name, ScalarType DType, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;
}

/// <summary>
/// The parsed and fully validated JSON header of one safetensors file. Everything a hostile header could use to
/// make us allocate or read out of range (shapes, offsets, sizes) is checked here, before any tensor exists.
/// </summary>
internal sealed record SafetensorsHeader(IReadOnlyList<HeaderTensor> Tensors, IReadOnlyDictionary<string, string> Metadata)
{
    const string MetadataKey = "__metadata__";

    /// <summary>Parses <paramref name="json"/> and checks every tensor against a data section of <paramref name="dataLength"/> bytes.</summary>
    /// <exception cref="CheckpointFormatException">anything malformed; the message names the file and the tensor.</exception>
    public static SafetensorsHeader Parse(ReadOnlySpan<byte> json, long dataLength, string file)
    {
        SafetensorsHeader header;
        try
        {
            header = ReadJson(json, file);
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(file, $"header is not valid JSON ({e.Message})", inner: e);
        }
        header.Validate(dataLength, file);
        return header;
    }

    static SafetensorsHeader ReadJson(ReadOnlySpan<byte> json, string file)
    {
        // Utf8JsonReader rather than JsonDocument/deserialisation: those keep the last of duplicate names silently.
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            throw new CheckpointFormatException(file, "header is not a JSON object");

        var tensors = new List<HeaderTensor>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (ReadToken(ref reader) != JsonTokenType.EndObject)
        {
            string name = reader.GetString()!;
            if (!seen.Add(name))
                throw new CheckpointFormatException(file, "appears twice in the header", name);
            ReadToken(ref reader);
            if (name == MetadataKey) ReadMetadata(ref reader, metadata, file);
            else tensors.Add(ReadTensor(ref reader, name, file));
        }
        // Only whitespace (the writer's padding) may follow; anything else makes Read throw a JsonException.
        if (reader.Read())
            throw new CheckpointFormatException(file, "header has content after its JSON object");
        return new SafetensorsHeader(tensors, metadata);
    }

    static JsonTokenType ReadToken(ref Utf8JsonReader reader)
    {
        if (!reader.Read()) throw new JsonException("header ends inside its JSON object");
        return reader.TokenType;
    }

    static void ReadMetadata(ref Utf8JsonReader reader, Dictionary<string, string> metadata, string file)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new CheckpointFormatException(file, $"{MetadataKey} is not a JSON object of strings");
        while (ReadToken(ref reader) != JsonTokenType.EndObject)
        {
            string key = reader.GetString()!;
            if (ReadToken(ref reader) != JsonTokenType.String)
                throw new CheckpointFormatException(file, $"{MetadataKey} value of '{key}' is not a string");
            if (!metadata.TryAdd(key, reader.GetString()!))
                throw new CheckpointFormatException(file, $"{MetadataKey} key '{key}' appears twice");
        }
    }

    static HeaderTensor ReadTensor(ref Utf8JsonReader reader, string name, string file)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new CheckpointFormatException(file, "header entry is not a JSON object", name);
        string? dtypeName = null;
        long[]? shape = null, offsets = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (ReadToken(ref reader) != JsonTokenType.EndObject)
        {
            string field = reader.GetString()!;
            if (!seen.Add(field))
                throw new CheckpointFormatException(file, $"field '{field}' appears twice", name);
            ReadToken(ref reader);
            switch (field)
            {
                case "dtype":
                    if (reader.TokenType != JsonTokenType.String)
                        throw new CheckpointFormatException(file, "dtype is not a string", name);
                    dtypeName = reader.GetString()!;
                    break;
                case "shape":
                    shape = ReadIntegers(ref reader, "shape", name, file);
                    break;
                case "data_offsets":
                    offsets = ReadIntegers(ref reader, "data_offsets", name, file);
                    break;
                default:
                    reader.Skip(); // unknown fields are tolerated, as the reference implementation does
                    break;
            }
        }
        if (dtypeName == null) throw new CheckpointFormatException(file, "has no dtype", name);
        if (shape == null) throw new CheckpointFormatException(file, "has no shape", name);
        if (offsets == null) throw new CheckpointFormatException(file, "has no data_offsets", name);
        if (!SafetensorsDType.TryParse(dtypeName, out var dtype, out _))
            throw new CheckpointFormatException(file,
                $"unknown or unsupported dtype '{dtypeName}' (supported: {string.Join(", ", SafetensorsDType.Names)})", name);
        if (offsets.Length != 2)
            throw new CheckpointFormatException(file, $"data_offsets must hold 2 integers, not {offsets.Length}", name);
        return new HeaderTensor(name, dtype, shape, offsets[0], offsets[1]);
    }

    /// <summary>A JSON array of non-negative integers (no fractions, no exponents, no strings).</summary>
    static long[] ReadIntegers(ref Utf8JsonReader reader, string field, string name, string file)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new CheckpointFormatException(file, $"{field} is not a JSON array", name);
        var values = new List<long>();
        while (ReadToken(ref reader) != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v))
                throw new CheckpointFormatException(file,
                    $"{field} holds '{TokenText(ref reader)}', which is not an integer", name);
            if (v < 0)
                throw new CheckpointFormatException(file, $"{field} holds the negative value {v}", name);
            values.Add(v);
        }
        return values.ToArray();
    }

    static string TokenText(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.Number or JsonTokenType.String => System.Text.Encoding.UTF8.GetString(reader.ValueSpan),
        _ => reader.TokenType.ToString(),
    };

    void Validate(long dataLength, string file)
    {
        foreach (var t in Tensors)
        {
            SafetensorsDType.TryGetName(t.DType, out string dtypeName, out int elementSize);
            long bytes;
            try
            {
                bytes = checked(t.Shape.Aggregate(1L, (a, b) => a * b) * elementSize);
            }
            catch (OverflowException)
            {
                throw new CheckpointFormatException(file, $"shape {Show(t.Shape)} is too large to exist", t.Name);
            }
            if (t.Begin > t.End)
                throw new CheckpointFormatException(file, $"data_offsets [{t.Begin}, {t.End}] begin after they end", t.Name);
            if (bytes != t.ByteLength)
                throw new CheckpointFormatException(file,
                    $"shape {Show(t.Shape)} of {dtypeName} needs {bytes} bytes but data_offsets [{t.Begin}, {t.End}] hold {t.ByteLength}", t.Name);
            if (t.End > dataLength)
                throw new CheckpointFormatException(file,
                    $"data_offsets [{t.Begin}, {t.End}] reach past the {dataLength} data bytes the file holds " +
                    "(truncated file, or offsets out of range)", t.Name);
        }
        HeaderTensor? previous = null;
        foreach (var t in Tensors.Where(t => t.ByteLength > 0).OrderBy(t => t.Begin))
        {
            if (previous != null && t.Begin < previous.End)
                throw new CheckpointFormatException(file,
                    $"data_offsets [{t.Begin}, {t.End}] overlap those of '{previous.Name}' [{previous.Begin}, {previous.End}]", t.Name);
            previous = t;
        }
    }

    internal static string Show(long[] shape) => $"[{string.Join(", ", shape)}]";
}
