using System.IO.Compression;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Core.IO.TorchPickle;

/// <summary>
/// A PyTorch <c>.bin</c>/<c>.pt</c> state dict in the zip format torch.save writes since PyTorch 1.6:
/// <c>&lt;prefix&gt;/data.pkl</c> (a pickle of name -> tensor), <c>&lt;prefix&gt;/data/&lt;key&gt;</c> (raw storages),
/// <c>&lt;prefix&gt;/byteorder</c>. The pickle runs in <see cref="RestrictedUnpickler"/>, which only knows the
/// globals a state dict needs, so a hostile file is refused instead of executed. Opening reads data.pkl and the
/// zip directory only; tensor bytes are read by <see cref="Load"/>, streamed into the tensor's native memory.
/// </summary>
public sealed class TorchBinSource : ITensorSource
{
    /// <summary>data.pkl above this size is refused (a 7B state dict's pickle is well under a megabyte).</summary>
    public const long MaxPickleBytes = 256L << 20;

    const int ChunkBytes = 16 << 20;

    readonly string _path;
    readonly string _prefix;
    readonly ZipArchive _zip;
    readonly Lock _gate = new();
    readonly Dictionary<string, TorchTensorRef> _tensors = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, TensorEntry> Entries { get; }

    /// <summary>Top-level or wrapper keys whose values are not tensors (epoch, optimizer, ...), skipped.</summary>
    public IReadOnlyList<string> SkippedKeys { get; }

    /// <exception cref="CheckpointFormatException">not a torch zip checkpoint, a refused or malformed pickle,
    /// big-endian data, or a tensor whose storage entry is missing or too short.</exception>
    public TorchBinSource(string path)
    {
        _path = path;
        var stream = File.OpenRead(path);
        try
        {
            _zip = OpenZip(stream);
            _prefix = FindPrefix();
            CheckByteOrder();
            var stateDict = TorchStateDict.From(RestrictedUnpickler.Load(ReadSmallEntry("data.pkl", MaxPickleBytes), path), path);

            var entries = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
            foreach (var (name, tensor) in stateDict.Tensors)
            {
                CheckStorage(name, tensor);
                _tensors[name] = tensor;
                entries[name] = new TensorEntry(name, tensor.DType, tensor.Size, path);
            }
            Entries = entries;
            SkippedKeys = stateDict.SkippedKeys;
        }
        catch
        {
            _zip?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    public Tensor Load(string name, ScalarType? dtype = null, Device? device = null)
    {
        if (!_tensors.TryGetValue(name, out var tensor))
            throw new KeyNotFoundException($"{_path}: no tensor '{name}' in this checkpoint ({_tensors.Count} tensors)");

        using var scope = NewDisposeScope();
        Tensor result;
        lock (_gate) result = Read(name, tensor);
        if (dtype is { } d && d != result.dtype) result = result.to_type(d);
        if (device is not null && device.type != DeviceType.CPU) result = result.to(device);
        return result.MoveToOuterDisposeScope();
    }

    public void Dispose() => _zip.Dispose();

    /// <summary>Reads the storage elements the view spans, then applies the view's strides.</summary>
    Tensor Read(string name, TorchTensorRef tensor)
    {
        long extent = tensor.CheckedExtent(_path, name);
        if (extent == 0) return empty(tensor.Size, tensor.DType);

        int elementSize = TorchStorageTypes.ElementSize(tensor.DType);
        var entry = StorageEntry(tensor.Storage);
        var flat = empty(extent, tensor.DType);
        try
        {
            using var stream = entry.Open();
            Skip(stream, tensor.StorageOffset * elementSize, entry, name);
            long perChunk = Math.Max(1, ChunkBytes / elementSize);
            for (long start = 0; start < extent; start += perChunk)
            {
                using var part = flat.narrow(0, start, Math.Min(perChunk, extent - start));
                // Span over the tensor's own native memory: the zip stream writes straight into it.
                stream.ReadExactly(part.bytes);
            }
        }
        catch (EndOfStreamException)
        {
            throw new CheckpointFormatException(_path, $"storage entry '{entry.FullName}' ended before the tensor's bytes", name);
        }
        catch (InvalidDataException e)
        {
            throw new CheckpointFormatException(_path, $"storage entry '{entry.FullName}' is corrupt: {e.Message}", name, e);
        }
        return tensor.IsContiguous ? flat.view(tensor.Size) : flat.as_strided(tensor.Size, tensor.Stride, 0).contiguous();
    }

    void Skip(Stream stream, long bytes, ZipArchiveEntry entry, string name)
    {
        if (bytes == 0) return;
        if (stream.CanSeek)
        {
            stream.Seek(bytes, SeekOrigin.Current);
            return;
        }
        var discard = new byte[Math.Min(bytes, 1 << 16)];
        for (long left = bytes; left > 0;)
        {
            int n = stream.Read(discard, 0, (int)Math.Min(left, discard.Length));
            if (n == 0) throw new CheckpointFormatException(_path, $"storage entry '{entry.FullName}' ended before the storage offset", name);
            left -= n;
        }
    }

    ZipArchive OpenZip(FileStream stream)
    {
        Span<byte> magic = stackalloc byte[4];
        int read = stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        stream.Position = 0;
        if (read < 4 || magic[0] != (byte)'P' || magic[1] != (byte)'K')
        {
            string what = read >= 1 && magic[0] == PickleOpcodes.Proto
                ? "a raw pickle (the legacy torch.save format from before PyTorch 1.6), which is not supported; re-save it with a current PyTorch or convert it to safetensors"
                : "not a zip archive, so not a torch.save checkpoint";
            throw new CheckpointFormatException(_path, what);
        }
        try { return new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: false); }
        catch (InvalidDataException e) { throw new CheckpointFormatException(_path, $"unreadable zip archive: {e.Message}", inner: e); }
    }

    /// <summary>torch.save names the folder after the file stem in old versions and "archive" in new ones.</summary>
    string FindPrefix()
    {
        var prefixes = _zip.Entries
            .Select(e => e.FullName)
            .Where(n => n.EndsWith("/data.pkl", StringComparison.Ordinal) && n.IndexOf('/') == n.Length - "/data.pkl".Length)
            .Select(n => n[..^"/data.pkl".Length])
            .ToList();
        return prefixes.Count switch
        {
            1 => prefixes[0],
            0 => throw new CheckpointFormatException(_path, "zip has no <folder>/data.pkl, so it is not a torch.save checkpoint"),
            _ => throw new CheckpointFormatException(_path, $"zip has several data.pkl folders ({string.Join(", ", prefixes)})"),
        };
    }

    void CheckByteOrder()
    {
        if (_zip.GetEntry($"{_prefix}/byteorder") is null) return;   // absent in older files; torch then assumes little
        string order = Encoding.ASCII.GetString(ReadSmallEntry("byteorder", 16)).Trim();
        if (order == "little") return;
        throw new CheckpointFormatException(_path, order == "big"
            ? "tensors are stored big-endian (byteorder = big); only little-endian checkpoints are supported: re-save it on a little-endian machine"
            : $"unknown byteorder '{order}'");
    }

    byte[] ReadSmallEntry(string relative, long maxBytes)
    {
        var entry = _zip.GetEntry($"{_prefix}/{relative}")
                    ?? throw new CheckpointFormatException(_path, $"zip entry '{_prefix}/{relative}' is missing");
        if (entry.Length > maxBytes)
            throw new CheckpointFormatException(_path, $"zip entry '{entry.FullName}' has {entry.Length} bytes, more than the {maxBytes} accepted");
        var bytes = new byte[entry.Length];
        using var stream = entry.Open();
        try { stream.ReadExactly(bytes); }
        catch (EndOfStreamException) { throw new CheckpointFormatException(_path, $"zip entry '{entry.FullName}' is shorter than its directory says"); }
        return bytes;
    }

    ZipArchiveEntry StorageEntry(TorchStorageRef storage) =>
        _zip.GetEntry($"{_prefix}/data/{storage.Key}")
        ?? throw new CheckpointFormatException(_path, $"storage '{storage.Key}' has no zip entry '{_prefix}/data/{storage.Key}'");

    /// <summary>Checks, from the zip directory alone, that the storage exists and holds the view's bytes.</summary>
    void CheckStorage(string name, TorchTensorRef tensor)
    {
        tensor.CheckedExtent(_path, name);
        var entry = _zip.GetEntry($"{_prefix}/data/{tensor.Storage.Key}")
                    ?? throw new CheckpointFormatException(_path, $"storage '{tensor.Storage.Key}' has no zip entry '{_prefix}/data/{tensor.Storage.Key}'", name);
        long needed;
        try { needed = checked(tensor.Storage.ElementCount * TorchStorageTypes.ElementSize(tensor.DType)); }
        catch (OverflowException) { throw new CheckpointFormatException(_path, $"storage '{tensor.Storage.Key}' element count {tensor.Storage.ElementCount} overflows", name); }
        if (entry.Length < needed)
            throw new CheckpointFormatException(_path,
                $"storage entry '{entry.FullName}' has {entry.Length} bytes, fewer than {tensor.Storage.ElementCount} x {tensor.DType} = {needed}", name);
    }
}
