namespace PioFvlm.Core.IO.TorchPickle;

/// <summary>A Python dict or OrderedDict read from a pickle, keeping insertion order.</summary>
internal sealed class PickleDict
{
    readonly OrderedDictionary<object, object?> _items = new();

    public int Count => _items.Count;
    public IEnumerable<KeyValuePair<object, object?>> Items => _items;

    /// <summary>Python semantics: a repeated key replaces the value and keeps the first position.</summary>
    public void Set(object key, object? value) => _items[key] = value;

    public bool TryGet(object key, out object? value) => _items.TryGetValue(key, out value);
}
