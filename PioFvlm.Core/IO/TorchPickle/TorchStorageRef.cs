using static TorchSharp.torch;

namespace PioFvlm.Core.IO.TorchPickle;

/// <summary>
/// A storage named by a persistent id <c>('storage', torch.XStorage, key, location, numel)</c>; its bytes are
/// the zip entry <c>&lt;prefix&gt;/data/&lt;key&gt;</c>. Several tensors may view one storage.
/// </summary>
internal sealed record TorchStorageRef(string Key, ScalarType DType, long ElementCount, string Location);
