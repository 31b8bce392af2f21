using PioFvlm.Core.IO.Loading;
using static TorchSharp.torch;

namespace PioFvlm.Core.IO;

/// <summary>
/// Several checkpoints seen as one name space, each through its own key map (ignored keys dropped). Used when a model's
/// weights come from more than one place, e.g. a research LLaVA checkpoint plus a separate CLIP tower. Two sources
/// that produce the same name are an error naming both. Owns the sources.
/// </summary>
public sealed class CombinedTensorSource : ITensorSource
{
    readonly List<ITensorSource> _sources = new();
    readonly Dictionary<string, (ITensorSource Source, string OriginalName)> _origin = new(StringComparer.Ordinal);
    readonly Dictionary<string, TensorEntry> _entries = new(StringComparer.Ordinal);

    public CombinedTensorSource(params (ITensorSource Source, KeyMap Map)[] parts)
    {
        foreach (var (source, map) in parts)
        {
            _sources.Add(source);
            foreach (var (name, entry) in source.Entries)
            {
                if (map.IsIgnored(name)) continue;
                string mapped = map.Map(name);
                if (_origin.TryGetValue(mapped, out var earlier))
                    throw new CheckpointFormatException(entry.File,
                        $"maps to '{mapped}', which '{earlier.OriginalName}' in {earlier.Source.Entries[earlier.OriginalName].File} also maps to", name);
                _origin[mapped] = (source, name);
                _entries[mapped] = entry with { Name = mapped };
            }
        }
    }

    public IReadOnlyDictionary<string, TensorEntry> Entries => _entries;

    public Tensor Load(string name, ScalarType? dtype = null, Device? device = null)
    {
        if (!_origin.TryGetValue(name, out var origin))
            throw new KeyNotFoundException($"no tensor named '{name}' in the combined checkpoint");
        return origin.Source.Load(origin.OriginalName, dtype, device);
    }

    public void Dispose()
    {
        foreach (var s in _sources) s.Dispose();
    }
}
