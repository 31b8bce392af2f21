using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace PioFvlm.Models.Llava;

/// <summary>The stack of CLIP encoder layers (HF CLIPEncoder); only holds them, the tower decides how many run.</summary>
public sealed class ClipEncoder : nn.Module
{
    [ComponentName(Name = "layers")] private readonly ModuleList<ClipEncoderLayer> _layers;

    public ClipEncoder(ClipVisionDims dims, Device? device = null) : base(nameof(ClipEncoder))
    {
        _layers = new ModuleList<ClipEncoderLayer>(
            Enumerable.Range(0, dims.Layers).Select(_ => new ClipEncoderLayer(dims, device)).ToArray());
        RegisterComponents();
    }

    public int Count => _layers.Count;

    public ClipEncoderLayer this[int index] => _layers[index];
}
