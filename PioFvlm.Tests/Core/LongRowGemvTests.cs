using PioFvlm.Core.Nn;
using PioFvlm.Core.Runtime;
using PioFvlm.Tests.TestSupport;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Core;

/// <summary>
/// The managed long-row bf16 gemv and the decode step's fp32 one-query attention, each against an fp64 product of the
/// same bf16 values (an independent oracle), plus the cases the kernel must hand back to libtorch.
/// </summary>
[NonParallelizable]   // OneRowGemv scopes are process-wide
public class LongRowGemvTests
{
    static Tensor Bf16(params long[] shape) => (randn(shape) / Math.Sqrt(shape[^1])).to_type(ScalarType.BFloat16);

    [TestCase(64, 6144)]
    [TestCase(72, 11008)]
    public void Product_MatchesFp64_WithinBf16Rounding(long outFeatures, long inFeatures)
    {
        if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) Assert.Ignore("no AVX-512: the kernel never applies here");
        using var _ = NewDisposeScope();
        manual_seed(5);
        var x = randn(1, 1, inFeatures).to_type(ScalarType.BFloat16);
        var w = Bf16(outFeatures, inFeatures);
        var bias = Bf16(outFeatures);
        Assert.That(LongRowGemv.Applies(x, w), Is.True);
        var y = LongRowGemv.Linear(x, w, bias);
        Assert.That(y.shape, Is.EqualTo(new long[] { 1, 1, outFeatures }));
        Assert.That(y.dtype, Is.EqualTo(ScalarType.BFloat16));
        var reference = matmul(x.to_type(ScalarType.Float64), w.to_type(ScalarType.Float64).t()) + bias.to_type(ScalarType.Float64);
        double scale = reference.abs().max().item<double>();
        // One bf16 rounding of the output (2^-9 relative) plus the bias add's: a wrong pairing of even/odd elements or a
        // row offset error gives errors of order `scale` everywhere.
        TensorAssert.Close(y.to_type(ScalarType.Float64), reference, 0.002 * scale, 0.008, "long-row gemv");
    }

    [Test]
    public void Applies_OnlyToOneContiguousLongBf16Row()
    {
        using var _ = NewDisposeScope();
        var w = Bf16(64, 6144);
        var x = Bf16(1, 6144);
        if (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) Assert.That(LongRowGemv.Applies(x, w), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(LongRowGemv.Applies(Bf16(1, 4096), Bf16(64, 4096)), Is.False, "short rows stay with ATen");
            Assert.That(LongRowGemv.Applies(Bf16(2, 6144), w), Is.False, "two rows");
            Assert.That(LongRowGemv.Applies(x.to_type(ScalarType.Float32), w.to_type(ScalarType.Float32)), Is.False, "fp32");
            Assert.That(LongRowGemv.Applies(x, Bf16(6144, 64).t()), Is.False, "non-contiguous weight");
            Assert.That(LongRowGemv.Applies(x, Bf16(60, 6144)), Is.False, "out-features not a multiple of 8");
            Assert.That(LongRowGemv.Applies(Bf16(1, 6160), Bf16(64, 6160)), Is.False, "in-features not a multiple of 32");
        });
    }

    [Test]
    public void MlpInsideDecodeScope_MatchesFp64()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        manual_seed(9);
        using var mlp = new GatedMlp("mlp", 64, 6144, dtype: ScalarType.BFloat16);
        foreach (var (_, p) in mlp.named_parameters()) p.copy_(Bf16(p.shape));
        var x = Bf16(1, 1, 64);
        Tensor y;
        using (OneRowGemv.Enter()) y = mlp.forward(x);
        var x64 = x.to_type(ScalarType.Float64);
        Tensor W(Linear l) => l.weight!.to_type(ScalarType.Float64);
        // The reference rounds the gated activations to bf16 as the model does before the down projection.
        var gated = (nn.functional.silu(nn.functional.linear(x64, W(mlp.GateProj))) * nn.functional.linear(x64, W(mlp.UpProj)))
            .to_type(ScalarType.BFloat16).to_type(ScalarType.Float64);
        var reference = nn.functional.linear(gated, W(mlp.DownProj));
        double scale = reference.abs().max().item<double>();
        TensorAssert.Close(y.to_type(ScalarType.Float64), reference, 0.02 * scale, 0.02, "MLP in a decode scope");
    }

    /// <summary>Attention.Attend inside a decode scope: MHA bf16 takes OneQueryAttention, MHA fp16 the fp32 products,
    /// GQA the folded SDPA; the kernel itself also on GQA and on cache-like views (a [B, Hkv, capacity, D] buffer
    /// narrowed to the used length).</summary>
    [TestCase(4, 4, ScalarType.BFloat16, false)]
    [TestCase(4, 2, ScalarType.BFloat16, false)]
    [TestCase(8, 8, ScalarType.Float16, false)]
    [TestCase(8, 2, ScalarType.Float16, false)]
    [TestCase(4, 4, ScalarType.BFloat16, true)]
    [TestCase(8, 2, ScalarType.BFloat16, true)]
    public void OneQueryAttention_MatchesFp64(int heads, int kvHeads, ScalarType dtype, bool kernelOnCacheView)
    {
        using var _ = NewDisposeScope();
        manual_seed(11);
        long t = 37, d = 64;
        var q = randn(1, heads, 1, d).to_type(dtype);
        var k = randn(1, kvHeads, t, d).to_type(dtype);
        var v = randn(1, kvHeads, t, d).to_type(dtype);
        Tensor y;
        if (kernelOnCacheView)
        {
            if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) Assert.Ignore("no AVX-512: the kernel never applies here");
            var keys = zeros(1, kvHeads, 64, d, dtype: dtype);
            var values = zeros(1, kvHeads, 64, d, dtype: dtype);
            keys.narrow(2, 0, t).copy_(k);
            values.narrow(2, 0, t).copy_(v);
            Assert.That(OneQueryAttention.Applies(q, keys.narrow(2, 0, t), values.narrow(2, 0, t)), Is.True);
            y = OneQueryAttention.Attend(q, keys.narrow(2, 0, t), values.narrow(2, 0, t));
        }
        else
            using (OneRowGemv.Enter()) y = Attention.Attend(q, k, v, AttentionKernel.Sdpa);
        Assert.That(y.shape, Is.EqualTo(new long[] { 1, heads, 1, d }));
        Assert.That(y.dtype, Is.EqualTo(dtype));
        // fp64 oracle: each query head reads kv head h / (heads / kvHeads).
        var group = heads / kvHeads;
        var expected = new Tensor[heads];
        for (int h = 0; h < heads; h++)
        {
            var qh = q[0, h].to_type(ScalarType.Float64);                       // [1, d]
            var kh = k[0, h / group].to_type(ScalarType.Float64);               // [t, d]
            var vh = v[0, h / group].to_type(ScalarType.Float64);
            var p = (matmul(qh, kh.t()) / Math.Sqrt(d)).softmax(-1);
            expected[h] = matmul(p, vh);
        }
        var reference = stack(expected).unsqueeze(0);                           // [1, H, 1, d]
        TensorAssert.Close(y.to_type(ScalarType.Float64), reference, 0.01, 0.01, $"one-query attention ({heads}/{kvHeads} heads, {dtype})");
    }
}
