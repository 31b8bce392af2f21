using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace PioFvlm.Core.IO.Safetensors;

/// <summary>
/// A sharded checkpoint described by a HuggingFace index (<c>model.safetensors.index.json</c>): a <c>weight_map</c>
/// from tensor name to shard file in the same folder. Opening checks that the index and the shards agree exactly.
/// The same index format also describes sharded <c>.bin</c> checkpoints: pass their opener as <c>openShard</c>.
/// </summary>
public sealed class ShardedSafetensors : ITensorSource
{
    const long MaxIndexBytes = 100_000_000;

    readonly Dictionary<string, ITensorSource> _shardOf = new(StringComparer.Ordinal);
    readonly List<ITensorSource> _shards = [];

    public string IndexPath { get; }
    public IReadOnlyDictionary<string, TensorEntry> Entries { get; }

    /// <summary>The index's <c>metadata</c> object (e.g. <c>total_size</c>), values as their JSON text for non-strings.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <param name="indexPath">the index JSON file.</param>
    /// <param name="openShard">opens one shard by full path; <see cref="SafetensorsFile"/> when null.</param>
    /// <exception cref="CheckpointFormatException">the index is malformed, a shard is missing, or index and shards disagree.</exception>
    public ShardedSafetensors(string indexPath, Func<string, ITensorSource>? openShard = null)
    {
        IndexPath = Path.GetFullPath(indexPath);
        openShard ??= path => new SafetensorsFile(path);
        var (weightMap, metadata) = ReadIndex(IndexPath);
        Metadata = metadata;
        string folder = Path.GetDirectoryName(IndexPath)!;
        var entries = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
        try
        {
            foreach (var group in weightMap.GroupBy(kv => kv.Value, StringComparer.Ordinal))
            {
                string shardFile = group.Key;
                string shardPath = Path.Combine(folder, shardFile);
                if (!File.Exists(shardPath))
                    throw new CheckpointFormatException(IndexPath,
                        $"shard file '{shardFile}' named in weight_map does not exist in {folder}", group.First().Key);
                var shard = openShard(shardPath);
                _shards.Add(shard);
                foreach (var (name, _) in group)
                {
                    if (!shard.Entries.TryGetValue(name, out var entry))
                        throw new CheckpointFormatException(IndexPath,
                            $"weight_map places it in shard '{shardFile}', which does not hold it", name);
                    entries.Add(name, entry);
                    _shardOf.Add(name, shard);
                }
                foreach (var name in shard.Entries.Keys)
                {
                    if (!weightMap.TryGetValue(name, out var mapped))
                        throw new CheckpointFormatException(IndexPath, $"shard '{shardFile}' holds it but weight_map does not list it", name);
                    if (mapped != shardFile)
                        throw new CheckpointFormatException(IndexPath,
                            $"shard '{shardFile}' holds it but weight_map places it in '{mapped}'", name);
                }
            }
        }
        catch
        {
            Dispose();
            throw;
        }
        Entries = entries;
    }

    static (Dictionary<string, string> WeightMap, Dictionary<string, string> Metadata) ReadIndex(string path)
    {
        long length = new FileInfo(path).Length;
        if (length > MaxIndexBytes)
            throw new CheckpointFormatException(path, $"index file has {length} bytes, more than the {MaxIndexBytes}-byte limit");
        byte[] bytes = File.ReadAllBytes(path);
        if (Encoding.ASCII.GetString(bytes, 0, Math.Min(bytes.Length, 23)) == "version https://git-lfs")
            throw new CheckpointFormatException(path, "is this an LFS pointer? run git lfs pull");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(path, $"index is not valid JSON ({e.Message})", inner: e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new CheckpointFormatException(path, "index is not a JSON object");
            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            bool sawWeightMap = false;
            // EnumerateObject yields duplicate names (lookups would silently keep one), so duplicates are caught here.
            foreach (var section in root.EnumerateObject())
            {
                if (section.Name == "weight_map")
                {
                    if (sawWeightMap) throw new CheckpointFormatException(path, "weight_map appears twice");
                    sawWeightMap = true;
                    if (section.Value.ValueKind != JsonValueKind.Object)
                        throw new CheckpointFormatException(path, "weight_map is not a JSON object");
                    foreach (var item in section.Value.EnumerateObject())
                    {
                        if (item.Value.ValueKind != JsonValueKind.String)
                            throw new CheckpointFormatException(path, "weight_map value is not a file name", item.Name);
                        string shard = item.Value.GetString()!;
                        if (shard.Length == 0 || shard != Path.GetFileName(shard) || shard is "." or "..")
                            throw new CheckpointFormatException(path, $"weight_map names '{shard}', which is not a plain file name", item.Name);
                        if (!weightMap.TryAdd(item.Name, shard))
                            throw new CheckpointFormatException(path, "appears twice in weight_map", item.Name);
                    }
                }
                else if (section.Name == "metadata" && section.Value.ValueKind == JsonValueKind.Object)
                {
                    foreach (var item in section.Value.EnumerateObject())
                        metadata[item.Name] = item.Value.ValueKind == JsonValueKind.String ? item.Value.GetString()! : item.Value.GetRawText();
                }
            }
            if (!sawWeightMap) throw new CheckpointFormatException(path, "index has no weight_map");
            return (weightMap, metadata);
        }
    }

    public Tensor Load(string name, ScalarType? dtype = null, Device? device = null)
    {
        if (!_shardOf.TryGetValue(name, out var shard))
            throw new KeyNotFoundException($"{IndexPath}: no tensor named '{name}'");
        return shard.Load(name, dtype, device);
    }

    public void Dispose()
    {
        foreach (var shard in _shards) shard.Dispose();
        _shards.Clear();
    }
}
