using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Core.IO.TorchPickle;

/// <summary>
/// Writes tensors as a state dict in torch.save's zip format (for tests and tools): <c>archive/data.pkl</c> is a
/// protocol 2 pickle of <c>OrderedDict(name -> _rebuild_tensor_v2(persistent_id(('storage', torch.XStorage, key,
/// 'cpu', numel)), offset, size, stride, False, OrderedDict()))</c>, storages are <c>archive/data/&lt;key&gt;</c>,
/// all entries stored uncompressed. Tensors that view one storage keep sharing it, with their offsets and strides,
/// as torch.save does.
/// </summary>
public static class TorchBinWriter
{
    const string Prefix = "archive";
    const int BatchSize = 1000;   // CPython's pickler writes dict items in SETITEMS batches of this size
    const long ChunkBytes = 16 << 20;

    sealed record Storage(string Key, Tensor AnyView, ScalarType DType)
    {
        public long ElementCount { get; set; }
    }

    sealed record Item(string Name, Storage Storage, long Offset, long[] Size, long[] Stride);

    /// <exception cref="ArgumentException">a repeated name, or two tensors viewing one storage as different dtypes.</exception>
    /// <exception cref="NotSupportedException">a dtype torch.save has no storage class for here (complex, ...).</exception>
    public static void Write(string path, IEnumerable<(string name, Tensor t)> tensors)
    {
        using var scope = NewDisposeScope();
        var items = Plan(tensors);
        using var file = File.Create(path);
        using var zip = new ZipArchive(file, ZipArchiveMode.Create);
        WriteEntry(zip, "data.pkl", Pickle(items));
        WriteEntry(zip, "byteorder", Encoding.ASCII.GetBytes("little"));
        foreach (var storage in items.Select(i => i.Storage).Distinct())
        {
            var entry = zip.CreateEntry($"{Prefix}/data/{storage.Key}", CompressionLevel.NoCompression);
            using var stream = entry.Open();
            if (storage.ElementCount == 0) continue;
            using var whole = storage.AnyView.as_strided([storage.ElementCount], [1], 0);
            long perChunk = Math.Max(1, ChunkBytes / TorchStorageTypes.ElementSize(storage.DType));
            for (long start = 0; start < storage.ElementCount; start += perChunk)
            {
                using var part = whole.narrow(0, start, Math.Min(perChunk, storage.ElementCount - start));
                stream.Write(part.bytes);   // a span over native memory: no managed copy of the tensor
            }
        }
        WriteEntry(zip, "version", Encoding.ASCII.GetBytes("3\n"));
    }

    static List<Item> Plan(IEnumerable<(string name, Tensor t)> tensors)
    {
        var items = new List<Item>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var byAddress = new Dictionary<nint, Storage>();
        int keys = 0;
        foreach (var (name, original) in tensors)
        {
            if (!names.Add(name)) throw new ArgumentException($"tensor name '{name}' appears twice", nameof(tensors));
            var t = original.detach().cpu();
            TorchStorageTypes.ElementSize(t.dtype);   // throws for dtypes without a storage class
            long[] size = t.shape, stride = t.stride();
            long offset = t.storage_offset();
            Storage storage;
            if (t.numel() == 0)
            {
                storage = new Storage((keys++).ToString(), t, t.dtype);   // nothing to share
                offset = 0;
            }
            else
            {
                long end = offset + 1 + size.Zip(stride, (s, st) => (s - 1) * st).Sum();
                nint address = StorageAddress(t);
                if (!byAddress.TryGetValue(address, out storage!))
                {
                    storage = new Storage((keys++).ToString(), t, t.dtype);
                    byAddress[address] = storage;
                }
                else if (storage.DType != t.dtype)
                {
                    throw new ArgumentException($"'{name}' views a storage as {t.dtype} that another tensor views as {storage.DType}", nameof(tensors));
                }
                storage.ElementCount = Math.Max(storage.ElementCount, end);
            }
            items.Add(new Item(name, storage, offset, size, stride));
        }
        return items;
    }

    /// <summary>Address of element 0 of the tensor's storage: equal addresses mean one shared storage.</summary>
    static nint StorageAddress(Tensor t)
    {
        using var first = t.as_strided([1], [1], 0);
        // Unmanaged memory never moves, so its address taken through a span reference stays valid as a key.
        return Unsafe.ByteOffset(ref Unsafe.NullRef<byte>(), ref MemoryMarshal.GetReference(first.bytes));
    }

    static byte[] Pickle(List<Item> items)
    {
        var e = new PickleEmitter();
        e.Global("collections", "OrderedDict");
        e.Op(PickleOpcodes.EmptyTuple);
        e.Op(PickleOpcodes.Reduce);
        e.MemoizeAnonymous();
        foreach (var batch in items.Chunk(BatchSize))
        {
            if (batch.Length > 1) e.Op(PickleOpcodes.Mark);
            foreach (var item in batch)
            {
                e.String(item.Name);
                WriteTensor(e, item);
            }
            e.Op(batch.Length > 1 ? PickleOpcodes.SetItems : PickleOpcodes.SetItem);
        }
        return e.Finish();
    }

    static void WriteTensor(PickleEmitter e, Item item)
    {
        e.Global("torch._utils", "_rebuild_tensor_v2");
        e.Op(PickleOpcodes.Mark);
        {
            e.Op(PickleOpcodes.Mark);
            e.String("storage");
            e.Global("torch", TorchStorageTypes.ClassNameOf(item.Storage.DType));
            e.String(item.Storage.Key);
            e.String("cpu");
            e.Int(item.Storage.ElementCount);
            e.EndTuple(5);
            e.Op(PickleOpcodes.BinPersId);

            e.Int(item.Offset);
            WriteIntTuple(e, item.Size);
            WriteIntTuple(e, item.Stride);
            e.Bool(false);
            e.Global("collections", "OrderedDict");
            e.Op(PickleOpcodes.EmptyTuple);
            e.Op(PickleOpcodes.Reduce);
            e.MemoizeAnonymous();
        }
        e.EndTuple(6);
        e.Op(PickleOpcodes.Reduce);
        e.MemoizeAnonymous();
    }

    static void WriteIntTuple(PickleEmitter e, long[] values)
    {
        if (values.Length > 3) e.Op(PickleOpcodes.Mark);
        foreach (long v in values) e.Int(v);
        e.EndTuple(values.Length);
    }

    static void WriteEntry(ZipArchive zip, string relative, byte[] bytes)
    {
        using var stream = zip.CreateEntry($"{Prefix}/{relative}", CompressionLevel.NoCompression).Open();
        stream.Write(bytes);
    }
}
