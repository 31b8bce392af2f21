using static TorchSharp.torch;

namespace PioFvlm.Core.IO;

/// <summary>One tensor of a checkpoint as described by its header, before any data is read.</summary>
/// <param name="Name">Name in the checkpoint (before any key renaming).</param>
/// <param name="DType">Element type as stored.</param>
/// <param name="Shape">Shape as stored.</param>
/// <param name="File">The file that holds the data.</param>
public sealed record TensorEntry(string Name, ScalarType DType, long[] Shape, string File)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}
