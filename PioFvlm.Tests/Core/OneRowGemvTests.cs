using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Runtime;
using PioFvlm.Models.Text.Llama;
using PioFvlm.Tests.Models;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Core;

/// <summary>
/// The decode route switch: scopes turn libtorch's oneDNN off and restore it, and one-row bf16 products and whole bf16
/// decode steps give the same answers (up to bf16 rounding) through either route, checked against fp64 and a full
/// recompute. Sizes are above oneDNN's threshold (M·N·K > 16³), so the oneDNN route really is oneDNN.
/// </summary>
[NonParallelizable]   // the switch is process-wide
public class OneRowGemvTests
{
    [Test]
    public void Scope_TurnsOneDnnOff_NestsAndRestores()
    {
        if (OperatingSystem.IsLinux())
            Assert.That(OneRowGemv.Available, Is.True, "libtorch_cpu's at::Context symbols should resolve on Linux");
        if (!OneRowGemv.Available)
        {
            using (OneRowGemv.Enter()) Assert.That(OneRowGemv.OneDnnEnabled, Is.Null, "no switch: nothing to report");
            return;
        }
        bool saved = OneRowGemv.Enabled;
        try
        {
            OneRowGemv.Enabled = true;
            bool? before = OneRowGemv.OneDnnEnabled;
            Assert.That(before, Is.True, "oneDNN is on outside any scope");
            using (OneRowGemv.Enter())
            {
                Assert.That(OneRowGemv.OneDnnEnabled, Is.False);
                using (OneRowGemv.Enter()) Assert.That(OneRowGemv.OneDnnEnabled, Is.False, "nested");
                Assert.That(OneRowGemv.OneDnnEnabled, Is.False, "still inside the outer scope");
            }
            Assert.That(OneRowGemv.OneDnnEnabled, Is.EqualTo(before), "restored after the last scope");
            OneRowGemv.Enabled = false;
            using (OneRowGemv.Enter()) Assert.That(OneRowGemv.OneDnnEnabled, Is.True, "disabled: the scope changes nothing");
        }
        finally { OneRowGemv.Enabled = saved; }
    }

    [Test]
    public void OneRowBf16Product_BothRoutes_MatchFp64()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        manual_seed(3);
        var x = randn(1, 512).to_type(ScalarType.BFloat16);
        var w = (randn(768, 512) / Math.Sqrt(512)).to_type(ScalarType.BFloat16);
        var reference = matmul(x.to_type(ScalarType.Float64), w.to_type(ScalarType.Float64).t());
        double scale = reference.abs().max().item<double>();
        bool saved = OneRowGemv.Enabled;
        try
        {
            foreach (bool gemv in new[] { false, true })
            {
                OneRowGemv.Enabled = gemv;
                Tensor y;
                using (OneRowGemv.Enter()) y = nn.functional.linear(x, w);
                Assert.That(y.dtype, Is.EqualTo(ScalarType.BFloat16));
                // bf16 output rounding (2^-8 relative) over an fp32 sum: 1 % of the largest value is ample, and far below
                // what a wrong layout or a transposed weight would give (values of order scale everywhere).
                TensorAssert.Close(y.to_type(ScalarType.Float64), reference, 0.01 * scale, 0.01, $"linear through {(gemv ? "ATen gemv" : "oneDNN")}");
            }
        }
        finally { OneRowGemv.Enabled = saved; }
    }

    [TestCase(false, 512)]
    [TestCase(true, 512)]
    [TestCase(true, 6144)]   // the down projection goes through LongRowGemv
    public void Bf16CachedDecode_EqualsFullRecompute(bool gemv, int intermediate)
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        var dims = TinyLlama.Gqa with { HiddenSize = 256, NumHeads = 4, NumKvHeads = 2, HeadDim = 64, IntermediateSize = intermediate, VocabSize = 512 };
        using var lm = TinyLlama.Create(dims, ScalarType.BFloat16);
        using (var scope = NewDisposeScope())
            foreach (var (name, p) in lm.named_parameters())
                if (!name.EndsWith("norm.weight", StringComparison.Ordinal) && !name.EndsWith("embed_tokens.weight", StringComparison.Ordinal))
                    p.copy_(randn_like(p, dtype: ScalarType.Float32).to_type(ScalarType.BFloat16) / Math.Sqrt(p.shape[1]));
        manual_seed(23);
        var ids = randint(0, dims.VocabSize, [1, 10]);
        var full = lm.forward(new TextModelInput(lm.Embed(ids), TinyLlama.Positions(0, 10))).to_type(ScalarType.Float32);   // [1, 10, V]
        double scale = full.abs().max().item<float>();

        using var cache = KvCache.For(lm.Dims, 1, 16, ScalarType.BFloat16);
        lm.Step(ids.narrow(1, 0, 6), 0, cache);
        var state = new DecodeState(PositionPolicy.Compact, 1, 6);
        bool saved = OneRowGemv.Enabled;
        try
        {
            OneRowGemv.Enabled = gemv;
            for (long pos = 6; pos < 10; pos++)
            {
                var logits = DecoderRunner.Step(lm, (int)ids[0, pos].item<long>(), state, cache);   // [V] fp32
                // bf16 through two layers: activations round at every op, in a different order than the 10-row recompute.
                TensorAssert.Close(logits, full[0, pos], 0.03 * scale, 0.03, $"decode at position {pos} ({(gemv ? "ATen gemv" : "oneDNN")})");
            }
        }
        finally { OneRowGemv.Enabled = saved; }
        Assert.That(cache.Lengths, Is.EqualTo(new long[] { 10, 10 }));
    }
}
