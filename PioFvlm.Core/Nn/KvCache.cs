using static TorchSharp.torch;

namespace PioFvlm.Core.Nn;

/// <summary>
/// Preallocated key/value cache, one [B, kvHeads, capacity, headDim] buffer pair per layer, each layer with its own
/// used length. Keys are stored after RoPE. Owned by the caller and passed into the model's forward; pruning
/// shortens layers independently with <see cref="Gather"/> (earlier layers keep what they saw).
/// The buffers live outside every dispose scope; dispose the cache to free them.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;
    private readonly long[] _lengths;
    private bool _disposed;

    public int LayerCount => _keys.Length;
    public long Batch { get; }
    public long KvHeads { get; }
    public long Capacity { get; }
    public long HeadDim { get; }
    public ScalarType DType { get; }
    public Device Device { get; }

    public KvCache(int layers, long batch, long kvHeads, long capacity, long headDim, ScalarType dtype, Device? device = null)
    {
        if (layers <= 0 || batch <= 0 || kvHeads <= 0 || capacity <= 0 || headDim <= 0)
            throw new ArgumentException($"KvCache: layers {layers}, batch {batch}, kvHeads {kvHeads}, capacity {capacity}, headDim {headDim} must all be positive");
        Batch = batch;
        KvHeads = kvHeads;
        Capacity = capacity;
        HeadDim = headDim;
        DType = dtype;
        Device = device ?? CPU;
        _keys = new Tensor[layers];
        _values = new Tensor[layers];
        _lengths = new long[layers];
        for (int l = 0; l < layers; l++)
        {
            _keys[l] = zeros([batch, kvHeads, capacity, headDim], dtype: dtype, device: Device).DetachFromDisposeScope();
            _values[l] = zeros([batch, kvHeads, capacity, headDim], dtype: dtype, device: Device).DetachFromDisposeScope();
        }
    }

    /// <summary>A cache shaped for a decoder with <paramref name="dims"/>.</summary>
    public static KvCache For(DecoderDims dims, long batch, long capacity, ScalarType dtype, Device? device = null) =>
        new(dims.NumLayers, batch, dims.NumKvHeads, capacity, dims.HeadDim, dtype, device);

    /// <summary>Positions cached in <paramref name="layer"/>.</summary>
    public long LengthOf(int layer)
    {
        CheckLayer(layer);
        return _lengths[layer];
    }

    /// <summary>Per-layer lengths (a copy).</summary>
    public long[] Lengths => (long[])_lengths.Clone();

    /// <summary>Bytes of K and V actually in use over all layers (used length, not capacity).</summary>
    public long BytesInUse
    {
        get
        {
            long perPosition = 2 * Batch * KvHeads * HeadDim * ElementSize(DType);
            return _lengths.Sum() * perPosition;
        }
    }

    /// <summary>Bytes allocated (capacity over all layers, K and V).</summary>
    public long BytesAllocated => 2L * LayerCount * Batch * KvHeads * Capacity * HeadDim * ElementSize(DType);

    /// <summary>Appends [B, kvHeads, n, headDim] keys and values after the layer's current length.</summary>
    public void Append(int layer, Tensor keys, Tensor values)
    {
        CheckLayer(layer);
        CheckBlock(keys, "keys", layer);
        CheckBlock(values, "values", layer);
        if (keys.shape[2] != values.shape[2])
            throw new ArgumentException($"KvCache.Append(layer {layer}): keys hold {keys.shape[2]} positions, values {values.shape[2]}");
        long n = keys.shape[2];
        long len = _lengths[layer];
        if (len + n > Capacity)
            throw new InvalidOperationException($"KvCache.Append(layer {layer}): {len} cached + {n} new positions exceed capacity {Capacity}; allocate a larger cache");
        using (no_grad())
        using (NewDisposeScope())
        {
            _keys[layer].narrow(2, len, n).copy_(keys);
            _values[layer].narrow(2, len, n).copy_(values);
        }
        _lengths[layer] = len + n;
    }

    /// <summary>View [B, kvHeads, LengthOf(layer), headDim] of the cached keys (a new handle in the caller's scope).</summary>
    public Tensor Keys(int layer)
    {
        CheckLayer(layer);
        return _keys[layer].narrow(2, 0, _lengths[layer]);
    }

    /// <summary>View [B, kvHeads, LengthOf(layer), headDim] of the cached values (a new handle in the caller's scope).</summary>
    public Tensor Values(int layer)
    {
        CheckLayer(layer);
        return _values[layer].narrow(2, 0, _lengths[layer]);
    }

    /// <summary>
    /// Keeps only the cached positions <paramref name="indices"/> (1-D int64, each in [0, LengthOf(layer)), in the
    /// order given, normally ascending) of <paramref name="layer"/>, packed to the front; the layer's length becomes
    /// indices.Length. Other layers are untouched.
    /// </summary>
    public void Gather(int layer, Tensor indices)
    {
        CheckLayer(layer);
        if (indices.dim() != 1 || indices.dtype != ScalarType.Int64)
            throw new ArgumentException($"KvCache.Gather(layer {layer}): indices must be a 1-D Int64 tensor, got {indices.dtype} [{string.Join(", ", indices.shape)}]");
        long len = _lengths[layer];
        long n = indices.shape[0];
        using var _ = NewDisposeScope();
        if (n > 0)
        {
            long lo = indices.min().item<long>(), hi = indices.max().item<long>();
            if (lo < 0 || hi >= len)
                throw new ArgumentOutOfRangeException(nameof(indices), $"KvCache.Gather(layer {layer}): indices span [{lo}, {hi}] but the layer holds {len} positions");
            using (no_grad())
            {
                var idx = indices.to(Device);
                // index_select makes a copy first, so the in-place write cannot read positions it already overwrote.
                var keptK = _keys[layer].narrow(2, 0, len).index_select(2, idx);
                var keptV = _values[layer].narrow(2, 0, len).index_select(2, idx);
                _keys[layer].narrow(2, 0, n).copy_(keptK);
                _values[layer].narrow(2, 0, n).copy_(keptV);
            }
        }
        _lengths[layer] = n;
    }

    /// <summary>Forgets every cached position (buffers are kept for reuse).</summary>
    public void Reset() => Array.Clear(_lengths);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var t in _keys) t.Dispose();
        foreach (var t in _values) t.Dispose();
    }

    private void CheckLayer(int layer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)layer >= (uint)LayerCount)
            throw new ArgumentOutOfRangeException(nameof(layer), $"KvCache: layer {layer} outside [0, {LayerCount})");
    }

    private void CheckBlock(Tensor t, string what, int layer)
    {
        if (t.dim() != 4 || t.shape[0] != Batch || t.shape[1] != KvHeads || t.shape[3] != HeadDim)
            throw new ArgumentException($"KvCache.Append(layer {layer}): {what} [{string.Join(", ", t.shape)}] do not match [B={Batch}, kvHeads={KvHeads}, n, headDim={HeadDim}]");
        if (t.dtype != DType)
            throw new ArgumentException($"KvCache.Append(layer {layer}): {what} dtype {t.dtype} differs from the cache dtype {DType}");
    }

    private static long ElementSize(ScalarType t) => Runtime.ElementSize.Of(t);
}
