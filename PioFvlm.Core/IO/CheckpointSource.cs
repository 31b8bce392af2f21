using PioFvlm.Core.IO.Safetensors;
using PioFvlm.Core.IO.TorchPickle;

namespace PioFvlm.Core.IO;

/// <summary>
/// Opens whatever checkpoint a path points at: a <c>.safetensors</c> file, a safetensors index, a PyTorch
/// <c>.bin</c> state dict (or its index), or a model folder holding one of those under the HuggingFace names.
/// </summary>
public static class CheckpointSource
{
    /// <summary>
    /// Opens one PyTorch <c>.bin</c> state dict: the restricted unpickler (<see cref="TorchBinSource"/>) by default;
    /// replaceable (tests), and null refuses <c>.bin</c> files.
    /// </summary>
    public static Func<string, ITensorSource>? BinOpener { get; set; } = path => new TorchBinSource(path);

    /// <summary>Folder entries tried in order: safetensors first, since it needs no unpickling.</summary>
    static readonly string[] FolderCandidates =
    [
        "model.safetensors.index.json",
        "model.safetensors",
        "pytorch_model.bin.index.json",
        "pytorch_model.bin",
    ];

    /// <exception cref="FileNotFoundException">nothing loadable at <paramref name="path"/>.</exception>
    /// <exception cref="NotSupportedException">a <c>.bin</c> checkpoint while no <see cref="BinOpener"/> is registered, or an unknown extension.</exception>
    /// <exception cref="CheckpointFormatException">the checkpoint is malformed.</exception>
    public static ITensorSource Open(string path)
    {
        if (Directory.Exists(path))
        {
            foreach (var candidate in FolderCandidates)
            {
                string file = Path.Combine(path, candidate);
                if (File.Exists(file)) return OpenFile(file);
            }
            throw new FileNotFoundException(
                $"{path}: folder holds no checkpoint (looked for {string.Join(", ", FolderCandidates)})", path);
        }
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such checkpoint file or folder", path);
        return OpenFile(path);
    }

    static ITensorSource OpenFile(string file)
    {
        string name = Path.GetFileName(file);
        if (name.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            return new SafetensorsFile(file);
        if (name.EndsWith(".safetensors.index.json", StringComparison.OrdinalIgnoreCase))
            return new ShardedSafetensors(file);
        if (name.EndsWith(".bin.index.json", StringComparison.OrdinalIgnoreCase))
            return new ShardedSafetensors(file, RequireBinOpener(file));
        if (name.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".pt", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".pth", StringComparison.OrdinalIgnoreCase))
            return RequireBinOpener(file)(file);
        throw new NotSupportedException($"{file}: not a checkpoint type this loader knows (.safetensors, .safetensors.index.json, .bin)");
    }

    static Func<string, ITensorSource> RequireBinOpener(string file) => BinOpener
        ?? throw new NotSupportedException(
            $"{file}: PyTorch .bin checkpoints are not supported yet (no reader registered in CheckpointSource.BinOpener); " +
            "use the model's .safetensors files instead");
}
