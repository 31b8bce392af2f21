using PioFvlm.Core.Nn;
using PioFvlm.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Nn;

public sealed class NormAndMlpTests
{
    [Test]
    public void RmsNorm_MatchesHandFormula_Fp64()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        manual_seed(1);
        using var norm = new RmsNorm("norm", 6, 1e-5, dtype: ScalarType.Float64);
        norm.Weight.copy_(randn(6, dtype: ScalarType.Float64));
        var x = randn([2, 3, 6], dtype: ScalarType.Float64);

        // Hand formula, element by element: w_c * x_c / sqrt(mean(x^2) + eps).
        var xs = x.data<double>().ToArray();
        var w = norm.Weight.data<double>().ToArray();
        var expected = new double[xs.Length];
        for (int row = 0; row < 6; row++)
        {
            double ms = 0;
            for (int c = 0; c < 6; c++) ms += xs[row * 6 + c] * xs[row * 6 + c];
            ms /= 6;
            for (int c = 0; c < 6; c++) expected[row * 6 + c] = w[c] * xs[row * 6 + c] / Math.Sqrt(ms + 1e-5);
        }
        TensorAssert.Close(norm.forward(x), tensor(expected, [2, 3, 6], ScalarType.Float64), 1e-12, 1e-12, "RmsNorm fp64");
    }

    [Test]
    public void RmsNorm_Bf16_NormalisesInFp32ThenCastsBeforeWeight()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        manual_seed(2);
        using var norm = new RmsNorm("norm", 8, 1e-5, dtype: ScalarType.BFloat16);
        norm.Weight.copy_(randn(8).to_type(ScalarType.BFloat16));
        var x = randn([4, 8]).to_type(ScalarType.BFloat16);

        var x32 = x.to_type(ScalarType.Float32);
        var normed = (x32 / (x32.pow(2).mean([-1], keepdim: true) + 1e-5).sqrt()).to_type(ScalarType.BFloat16);
        var expected = norm.Weight * normed;
        var actual = norm.forward(x);
        Assert.That(actual.dtype, Is.EqualTo(ScalarType.BFloat16));
        TensorAssert.Close(actual, expected, 1e-2, 1e-2, "RmsNorm bf16");
    }

    [Test]
    public void GatedMlp_MatchesHandFormula()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        manual_seed(3);
        using var mlp = new GatedMlp("mlp", 5, 7, dtype: ScalarType.Float64);
        var x = randn([2, 3, 5], dtype: ScalarType.Float64);

        var g = matmul(x, mlp.GateProj.weight!.t());
        var u = matmul(x, mlp.UpProj.weight!.t());
        var silu = g / (1 + (-g).exp());            // silu(t) = t * sigmoid(t)
        var expected = matmul(silu * u, mlp.DownProj.weight!.t());
        TensorAssert.Close(mlp.forward(x), expected, 1e-12, 1e-12, "GatedMlp");
        Assert.That(mlp.named_parameters().Select(p => p.name), Is.EquivalentTo(new[] { "gate_proj.weight", "up_proj.weight", "down_proj.weight" }));
    }
}
