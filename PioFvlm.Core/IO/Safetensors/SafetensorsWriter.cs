using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;
using static TorchSharp.torch;

namespace PioFvlm.Core.IO.Safetensors;

/// <summary>
/// Writes safetensors files the reference library can read: header padded with spaces so data starts 8-byte
/// aligned, contiguous data offsets in the order given. Each tensor's bytes go from its native storage to the file
/// in chunks; the file appears under its name only once complete (temporary file, then rename).
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>Name of the index file of a sharded set whose shards are <c>{baseName}-0000i-of-0000n.safetensors</c>.</summary>
    public static string IndexFileName(string baseName = "model") => $"{baseName}.safetensors.index.json";

    /// <summary>Writes <paramref name="tensors"/> (any device, any layout) to one file.</summary>
    /// <exception cref="ArgumentException">a name repeats or is reserved, or a dtype has no safetensors name.</exception>
    public static void Write(string path, IEnumerable<(string name, Tensor t)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        byte[] header = BuildHeader(list, metadata);
        WriteAtomically(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (var (_, t) in list)
            {
                using var scope = NewDisposeScope();
                TensorBytes.WriteFrom(t.detach().cpu().contiguous(), stream);
            }
        });
    }

    /// <summary>
    /// Writes a sharded set into <paramref name="directory"/>: tensors are packed in order into shards of at most
    /// <paramref name="maxShardBytes"/> (a larger tensor gets a shard of its own), plus the HuggingFace-style index
    /// <c>{baseName}.safetensors.index.json</c> with <c>metadata.total_size</c> and <c>weight_map</c>.
    /// </summary>
    /// <returns>The path of the index file.</returns>
    public static string WriteSharded(string directory, IEnumerable<(string name, Tensor t)> tensors, long maxShardBytes,
        string baseName = "model", IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        var shards = new List<List<(string name, Tensor t)>>();
        long current = 0, total = 0;
        foreach (var item in tensors)
        {
            long bytes = item.t.numel() * item.t.ElementSize;
            if (shards.Count == 0 || (current + bytes > maxShardBytes && shards[^1].Count > 0))
            {
                shards.Add([]);
                current = 0;
            }
            shards[^1].Add(item);
            current += bytes;
            total += bytes;
        }
        if (shards.Count == 0) shards.Add([]);

        Directory.CreateDirectory(directory);
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < shards.Count; i++)
        {
            string shardName = $"{baseName}-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            foreach (var (name, _) in shards[i])
            {
                if (!weightMap.TryAdd(name, shardName))
                    throw new ArgumentException($"tensor name '{name}' appears twice", nameof(tensors));
            }
            Write(System.IO.Path.Combine(directory, shardName), shards[i], metadata);
        }

        string indexPath = System.IO.Path.Combine(directory, IndexFileName(baseName));
        WriteAtomically(indexPath, stream =>
        {
            using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
            json.WriteStartObject();
            json.WriteStartObject("metadata");
            json.WriteNumber("total_size", total);
            json.WriteEndObject();
            json.WriteStartObject("weight_map");
            foreach (var (name, shard) in weightMap) json.WriteString(name, shard);
            json.WriteEndObject();
            json.WriteEndObject();
        });
        return indexPath;
    }

    static byte[] BuildHeader(List<(string name, Tensor t)> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            var names = new HashSet<string>(StringComparer.Ordinal);
            long offset = 0;
            foreach (var (name, t) in tensors)
            {
                if (name == "__metadata__" || name.Length == 0)
                    throw new ArgumentException($"'{name}' cannot name a tensor", nameof(tensors));
                if (!names.Add(name))
                    throw new ArgumentException($"tensor name '{name}' appears twice", nameof(tensors));
                if (!SafetensorsDType.TryGetName(t.dtype, out string dtypeName, out int elementSize))
                    throw new ArgumentException($"tensor '{name}' has dtype {t.dtype}, which safetensors cannot store here", nameof(tensors));
                long bytes = t.numel() * elementSize;
                json.WriteStartObject(name);
                json.WriteString("dtype", dtypeName);
                json.WriteStartArray("shape");
                foreach (long d in t.shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        // Spaces up to a multiple of 8 after the 8-byte length, so the data section is 8-byte aligned.
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    /// <summary>Writes to a temporary file beside <paramref name="path"/>, flushes it to disk, then renames it over.</summary>
    static void WriteAtomically(string path, Action<Stream> write)
    {
        string full = System.IO.Path.GetFullPath(path);
        string temp = $"{full}.{Guid.NewGuid():N}.partial";
        try
        {
            // bufferSize 0: chunks go straight to write(2) from native tensor memory, no managed staging buffer.
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
