using static TorchSharp.torch;

namespace PioFvlm.Core.IO.TorchPickle;

/// <summary>
/// A tensor as <c>_rebuild_tensor_v2(storage, storage_offset, size, stride, ...)</c> describes it: a strided
/// view of <see cref="Storage"/>, in elements.
/// </summary>
internal sealed record TorchTensorRef(TorchStorageRef Storage, long StorageOffset, long[] Size, long[] Stride)
{
    public ScalarType DType => Storage.DType;

    /// <summary>
    /// Checks the view lies inside its storage, with overflow-safe arithmetic, and returns how many storage
    /// elements it spans from <see cref="StorageOffset"/> (0 for an empty tensor).
    /// </summary>
    /// <exception cref="CheckpointFormatException">negative sizes or strides, overflow, or a view past the storage end.</exception>
    public long CheckedExtent(string file, string name)
    {
        string where = $"size [{string.Join(", ", Size)}], stride [{string.Join(", ", Stride)}], storage offset {StorageOffset}, " +
                       $"storage '{Storage.Key}' of {Storage.ElementCount} elements";
        if (Size.Length != Stride.Length)
            throw new CheckpointFormatException(file, $"size and stride ranks differ ({where})", name);
        if (StorageOffset < 0 || Size.Any(s => s < 0) || Stride.Any(s => s < 0))
            throw new CheckpointFormatException(file, $"negative size, stride or offset ({where})", name);
        try
        {
            long count = 1, lastIndex = 0;
            for (int d = 0; d < Size.Length; d++)
            {
                count = checked(count * Size[d]);
                if (Size[d] > 0) lastIndex = checked(lastIndex + (Size[d] - 1) * Stride[d]);
            }
            if (count == 0) return 0;
            long extent = checked(lastIndex + 1);
            if (checked(StorageOffset + extent) > Storage.ElementCount)
                throw new CheckpointFormatException(file, $"view reaches past the end of its storage ({where})", name);
            // Overlapping strides (an expanded tensor) would be materialised larger than anything stored; refuse
            // rather than allocate an amount the file does not back.
            if (count > Storage.ElementCount)
                throw new CheckpointFormatException(file, $"tensor has {count} elements, more than its storage holds ({where})", name);
            return extent;
        }
        catch (OverflowException)
        {
            throw new CheckpointFormatException(file, $"tensor geometry overflows 64-bit arithmetic ({where})", name);
        }
    }

    /// <summary>True when the strides are the row-major ones for <see cref="Size"/> (dims of size 1 are free).</summary>
    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int d = Size.Length - 1; d >= 0; d--)
            {
                if (Size[d] != 1 && Stride[d] != expected) return false;
                expected *= Size[d];
            }
            return true;
        }
    }
}
