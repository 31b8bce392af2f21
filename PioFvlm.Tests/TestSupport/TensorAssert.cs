using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Tests.TestSupport;

/// <summary>Closeness assertion that says what differs: shape, dtype, max |diff| and where it is.</summary>
public static class TensorAssert
{
    /// <summary>Default absolute tolerance per dtype (relative part is the same figure).</summary>
    public static double DefaultTolerance(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 => 1e-10,
        ScalarType.Float32 => 1e-5,
        ScalarType.Float16 => 1e-3,
        ScalarType.BFloat16 => 1e-2,
        _ => 0,
    };

    /// <summary>Asserts |actual - expected| &lt;= atol + rtol * |expected| elementwise.</summary>
    public static void Close(Tensor actual, Tensor expected, double? atol = null, double? rtol = null, string what = "tensor")
    {
        using var scope = NewDisposeScope();
        Assert.That(actual.shape, Is.EqualTo(expected.shape),
            $"{what}: shape [{string.Join(", ", actual.shape)}] != expected [{string.Join(", ", expected.shape)}]");
        double a = atol ?? Math.Max(DefaultTolerance(actual.dtype), DefaultTolerance(expected.dtype));
        double r = rtol ?? a;
        var act = actual.detach().to(ScalarType.Float64, CPU);
        var exp = expected.detach().to(ScalarType.Float64, CPU);
        if (act.numel() == 0) return;
        var diff = (act - exp).abs();
        var nanMismatch = act.isnan().logical_xor(exp.isnan()).any().item<bool>();
        Assert.That(nanMismatch, Is.False, $"{what}: NaN positions differ");
        var bad = diff.nan_to_num(0) > (a + r * exp.abs().nan_to_num(0));
        if (!bad.any().item<bool>()) return;
        var flat = diff.nan_to_num(0).flatten();
        long argmax = flat.argmax().item<long>();
        double maxDiff = flat[argmax].item<double>();
        long[] index = Unravel(argmax, actual.shape);
        Assert.Fail($"{what}: max |diff| = {maxDiff:G6} at [{string.Join(", ", index)}] " +
                    $"(actual {act.flatten()[argmax].item<double>():G8}, expected {exp.flatten()[argmax].item<double>():G8}); " +
                    $"{bad.sum().item<long>()} of {act.numel()} elements outside atol={a:G3}, rtol={r:G3}; " +
                    $"shape [{string.Join(", ", actual.shape)}], dtype {actual.dtype} vs {expected.dtype}");
    }

    /// <summary>
    /// <see cref="Close"/>, after printing the measured max |diff| (and where, and the largest |diff| / |expected|) to
    /// the test output, so passing runs show their margins too. Returns the max |diff|.
    /// </summary>
    public static double CloseReported(Tensor actual, Tensor expected, double atol, double rtol, string what)
    {
        using (var scope = NewDisposeScope())
        {
            var act = actual.detach().to(ScalarType.Float64, CPU);
            var exp = expected.detach().to(ScalarType.Float64, CPU);
            if (act.shape.SequenceEqual(expected.shape) && act.numel() > 0)
            {
                var diff = (act - exp).abs().flatten();
                long argmax = diff.argmax().item<long>();
                double max = diff[argmax].item<double>();
                double rel = (diff / exp.abs().flatten().clamp_min(1e-30)).max().item<double>();
                TestContext.Out.WriteLine($"{what}: max |diff| = {max:G4} at [{string.Join(", ", Unravel(argmax, actual.shape))}], " +
                                          $"max |diff|/|expected| = {rel:G4} (atol {atol:G3}, rtol {rtol:G3}, {act.numel()} values)");
                Close(actual, expected, atol, rtol, what);
                return max;
            }
        }
        Close(actual, expected, atol, rtol, what);
        return 0;
    }

    /// <summary>Asserts exact equality (bitwise for floats), with the same report as <see cref="Close"/>.</summary>
    public static void Equal(Tensor actual, Tensor expected, string what = "tensor")
    {
        Assert.That(actual.dtype, Is.EqualTo(expected.dtype), $"{what}: dtype differs");
        Close(actual, expected, 0, 0, what);
    }

    static long[] Unravel(long flatIndex, long[] shape)
    {
        var idx = new long[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            idx[d] = flatIndex % shape[d];
            flatIndex /= shape[d];
        }
        return idx;
    }
}
