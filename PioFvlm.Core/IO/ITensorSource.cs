using static TorchSharp.torch;

namespace PioFvlm.Core.IO;

/// <summary>
/// A checkpoint (one safetensors file, a sharded set, or a PyTorch .bin state dict) seen as named tensors.
/// Reading the list costs only the headers; <see cref="Load"/> reads one tensor's data.
/// </summary>
public interface ITensorSource : IDisposable
{
    /// <summary>Every tensor, keyed by checkpoint name.</summary>
    IReadOnlyDictionary<string, TensorEntry> Entries { get; }

    /// <summary>Reads one tensor, optionally converting its dtype and placing it on a device.</summary>
    /// <exception cref="CheckpointFormatException">the data is missing or inconsistent with the header.</exception>
    Tensor Load(string name, ScalarType? dtype = null, Device? device = null);
}
