using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Core.IO.Safetensors;

/// <summary>
/// One <c>.safetensors</c> file: an 8-byte little-endian header length, a JSON header, then the raw tensor data.
/// Opening reads and validates only the header; <see cref="Load"/> streams one tensor straight into the storage
/// of a fresh torch tensor. The file stays open (shared for reading) until disposed.
/// </summary>
public sealed class SafetensorsFile : ITensorSource
{
    /// <summary>The same limit the reference implementation uses; real headers are well under 10 MB.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    const string LfsPointerStart = "version https://git-lfs";

    readonly SafeFileHandle _file;
    readonly Dictionary<string, HeaderTensor> _tensors;
    readonly long _dataStart;

    public string Path { get; }
    public IReadOnlyDictionary<string, TensorEntry> Entries { get; }

    /// <summary>The header's <c>__metadata__</c> (string to string); empty when absent.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <exception cref="CheckpointFormatException">the file is not a well-formed safetensors file.</exception>
    public SafetensorsFile(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        _file = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            (var header, _dataStart) = ReadHeader(_file, Path);
            _tensors = header.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
            Entries = header.Tensors.ToDictionary(t => t.Name, t => new TensorEntry(t.Name, t.DType, t.Shape, Path), StringComparer.Ordinal);
            Metadata = header.Metadata;
        }
        catch
        {
            _file.Dispose();
            throw;
        }
    }

    static (SafetensorsHeader Header, long DataStart) ReadHeader(SafeFileHandle file, string path)
    {
        long fileLength = RandomAccess.GetLength(file);
        Span<byte> prefix = stackalloc byte[LfsPointerStart.Length];
        int got = ReadAtMost(file, prefix, 0);
        if (Encoding.ASCII.GetString(prefix[..got]) == LfsPointerStart)
            throw new CheckpointFormatException(path,
                "file is a small text file starting with 'version https://git-lfs': is this an LFS pointer? run git lfs pull");
        if (fileLength < 8)
            throw new CheckpointFormatException(path, $"file has {fileLength} bytes, fewer than the 8-byte header length (truncated file)");

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix[..8]);
        if (headerLength > (ulong)(fileLength - 8))
            throw new CheckpointFormatException(path,
                $"header length {headerLength} is larger than the {fileLength - 8} bytes after it (truncated file or not safetensors)");
        if (headerLength > MaxHeaderBytes)
            throw new CheckpointFormatException(path, $"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit");

        // Bounded by both checks above, so a hostile length cannot make this allocation large.
        var json = new byte[headerLength];
        if (ReadAtMost(file, json, 8) != json.Length)
            throw new CheckpointFormatException(path, "file ends inside the header (truncated file)");
        long dataStart = 8 + (long)headerLength;
        return (SafetensorsHeader.Parse(json, fileLength - dataStart, path), dataStart);
    }

    static int ReadAtMost(SafeFileHandle file, Span<byte> buffer, long offset)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int read = RandomAccess.Read(file, buffer[total..], offset + total);
            if (read == 0) break;
            total += read;
        }
        return total;
    }

    public Tensor Load(string name, ScalarType? dtype = null, Device? device = null)
    {
        if (!_tensors.TryGetValue(name, out var t))
            throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");
        var stored = empty(t.Shape, t.DType, CPU);
        try
        {
            TensorBytes.ReadInto(_file, _dataStart + t.Begin, stored, Path, name);
        }
        catch
        {
            stored.Dispose();
            throw;
        }
        bool convert = dtype is { } d && d != t.DType;
        bool move = device is { } dev && dev.type != DeviceType.CPU;
        if (!convert && !move) return stored;
        using (stored)
            return stored.to(dtype ?? t.DType, device ?? CPU);
    }

    public void Dispose() => _file.Dispose();
}
