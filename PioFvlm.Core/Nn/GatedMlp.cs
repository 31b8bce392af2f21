using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using PioFvlm.Core.Runtime;
using static TorchSharp.torch;

namespace PioFvlm.Core.Nn;

/// <summary>SwiGLU MLP of LLaMA/Mistral/Qwen2: <c>down_proj(silu(gate_proj(x)) * up_proj(x))</c>, no biases by default
/// (the Qwen2.5-VL vision blocks have biases on all three).</summary>
public sealed class GatedMlp : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "gate_proj")] private readonly Linear _gateProj;
    [ComponentName(Name = "up_proj")] private readonly Linear _upProj;
    [ComponentName(Name = "down_proj")] private readonly Linear _downProj;

    public Linear GateProj => _gateProj;
    public Linear UpProj => _upProj;
    public Linear DownProj => _downProj;

    public GatedMlp(string name, long hiddenSize, long intermediateSize, Device? device = null, ScalarType? dtype = null, bool bias = false) : base(name)
    {
        _gateProj = nn.Linear(hiddenSize, intermediateSize, hasBias: bias, device: device, dtype: dtype);
        _upProj = nn.Linear(hiddenSize, intermediateSize, hasBias: bias, device: device, dtype: dtype);
        _downProj = nn.Linear(intermediateSize, hiddenSize, hasBias: bias, device: device, dtype: dtype);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var _ = NewDisposeScope();
        var gated = nn.functional.silu(_gateProj.forward(input)) * _upProj.forward(input);
        // A decode step's down projection has rows too long for ATen's gemv (see LongRowGemv).
        return OneRowGemv.Project(_downProj, gated).MoveToOuterDisposeScope();
    }
}
