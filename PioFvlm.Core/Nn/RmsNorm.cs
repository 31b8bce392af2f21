using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PioFvlm.Core.Nn;

/// <summary>
/// Root-mean-square layer norm as HF LlamaRMSNorm: normalise in (at least) fp32, cast back to the input dtype,
/// then multiply by the weight. HF always computes in fp32; here fp64 inputs stay fp64 so fp64 tests keep their
/// precision (identical to HF for fp32/fp16/bf16).
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private readonly Parameter _weight;

    /// <summary>Epsilon added to the mean square.</summary>
    public double Eps { get; }

    /// <summary>eps as one long-lived Scalar: a temporary Scalar made per call can be finalised by the GC while the
    /// native add still reads it (seen as "Expected false to be true" from c10 Scalar::toFloat under GC pressure).</summary>
    readonly Scalar _eps;

    /// <summary>The learned per-channel scale, key <c>weight</c>.</summary>
    public Parameter Weight => _weight;

    public RmsNorm(string name, long size, double eps, Device? device = null, ScalarType? dtype = null) : base(name)
    {
        Eps = eps;
        _eps = eps;
        _weight = new Parameter(ones(size, dtype: dtype ?? ScalarType.Float32, device: device).DetachFromDisposeScope());
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var _ = NewDisposeScope();
        if (input.shape[^1] != _weight.shape[0])
            throw new ArgumentException($"RmsNorm '{GetName()}': last dimension of input [{string.Join(", ", input.shape)}] != weight size {_weight.shape[0]}");
        var computeType = input.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var x = input.to_type(computeType);
        var variance = x.square().mean([-1], keepdim: true);
        var normed = (x * variance.add(_eps).rsqrt()).to_type(input.dtype);
        return (_weight * normed).MoveToOuterDisposeScope();
    }
}
