using PioFvlm.Core.Nn;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Nn;

public sealed class RotaryEmbeddingTests
{
    [Test]
    public void InverseFrequencies_AreThetaPowers()
    {
        var rope = new RotaryEmbedding(8, 10000);
        // 1 / 10000^(2i/8), i = 0..3 = 1, 0.1, 0.01, 0.001
        Assert.That(rope.InverseFrequencies, Is.EqualTo(new[] { 1f, 0.1f, 0.01f, 0.001f }).Within(1e-7));
    }

    [Test]
    public void HeadDim4_MatchesRotationWrittenOut()
    {
        using var _ = NewDisposeScope();
        var rope = new RotaryEmbedding(4, 10000);   // inv_freq = [1, 1/100]
        double a = 0.3, b = -1.2, c = 0.7, d = 2.0;
        var x = tensor(new[] { a, b, c, d }, [1, 1, 1, 4], ScalarType.Float64);
        var positions = tensor(new long[] { 3 }, [1, 1]);
        var rotated = RotaryEmbedding.Apply(x, rope.Tables(positions, ScalarType.Float64));

        // rotate-half pairs dims (0, 2) with angle 3·1 and (1, 3) with angle 3·0.01; inv_freq is fp32 as in HF,
        // so the second frequency is the float nearest 0.01.
        double t0 = 3.0, t1 = 3.0 * (double)0.01f;
        var expected = tensor(new[]
        {
            a * Math.Cos(t0) - c * Math.Sin(t0),
            b * Math.Cos(t1) - d * Math.Sin(t1),
            c * Math.Cos(t0) + a * Math.Sin(t0),
            d * Math.Cos(t1) + b * Math.Sin(t1),
        }, [1, 1, 1, 4], ScalarType.Float64);
        TensorAssert.Close(rotated, expected, 1e-12, 1e-12, "rope head_dim 4 at position 3");
    }

    [Test]
    public void Fp32Tables_AreCastFromFp32Angles()
    {
        using var _ = NewDisposeScope();
        var rope = new RotaryEmbedding(4, 10000);
        var tables = rope.Tables(tensor(new long[] { 0, 1, 2 }, [1, 3]), ScalarType.Float32);
        Assert.That(tables.Cos.shape, Is.EqualTo(new long[] { 3, 4 }));
        Assert.That(tables.Cos.dtype, Is.EqualTo(ScalarType.Float32));
        var expectedCos = tensor(new[] { 1f, 1f, 1f, 1f, MathF.Cos(1), MathF.Cos(0.01f), MathF.Cos(1), MathF.Cos(0.01f),
                                         MathF.Cos(2), MathF.Cos(0.02f), MathF.Cos(2), MathF.Cos(0.02f) }, [3, 4]);
        TensorAssert.Close(tables.Cos, expectedCos, 1e-6, 0, "cos table");
    }

    [Test]
    public void DotProductAfterRope_DependsOnlyOnPositionDifference()
    {
        using var _ = NewDisposeScope();
        manual_seed(4);
        var rope = new RotaryEmbedding(16, 10000);
        var q = randn([1, 1, 1, 16], dtype: ScalarType.Float64);
        var k = randn([1, 1, 1, 16], dtype: ScalarType.Float64);
        double Score(long m, long n)
        {
            var qm = RotaryEmbedding.Apply(q, rope.Tables(tensor(new[] { m }, [1, 1]), ScalarType.Float64));
            var kn = RotaryEmbedding.Apply(k, rope.Tables(tensor(new[] { n }, [1, 1]), ScalarType.Float64));
            return (qm * kn).sum().item<double>();
        }
        double s0 = Score(5, 2);
        Assert.That(Score(105, 102), Is.EqualTo(s0).Within(1e-9));
        Assert.That(Score(3, 0), Is.EqualTo(s0).Within(1e-9));
        Assert.That(Score(7, 2), Is.Not.EqualTo(s0).Within(1e-3), "a different offset must give a different score");
    }

    [Test]
    public void MRope_WithEqualRows_EqualsOneRowRope()
    {
        using var _ = NewDisposeScope();
        var plain = new RotaryEmbedding(16, 1e6);
        var mrope = new RotaryEmbedding(16, 1e6, [2, 3, 3]);
        var pos1 = tensor(new long[] { 0, 4, 9 }, [1, 3]);
        var pos3 = pos1.expand(3, 3).contiguous();
        var a = plain.Tables(pos1, ScalarType.Float32);
        var b = mrope.Tables(pos3, ScalarType.Float32);
        TensorAssert.Equal(b.Cos, a.Cos, "mrope cos, equal rows");
        TensorAssert.Equal(b.Sin, a.Sin, "mrope sin, equal rows");
    }

    [Test]
    public void MRope_FrequencySlotsReadTheirSectionRow()
    {
        using var _ = NewDisposeScope();
        var mrope = new RotaryEmbedding(8, 10000, [1, 2, 1]);   // slots: 0 -> t, 1..2 -> h, 3 -> w
        var pos = tensor(new long[] { 2, 5, 7 }, [3, 1]);
        var inv = mrope.InverseFrequencies;
        var angles = new[] { 2 * inv[0], 5 * inv[1], 5 * inv[2], 7 * inv[3] };
        var expected = tensor(angles.Concat(angles).Select(t => MathF.Cos(t)).ToArray(), [1, 8]);
        TensorAssert.Close(mrope.Tables(pos, ScalarType.Float32).Cos, expected, 1e-6, 0, "mrope cos per section");
    }

    [Test]
    public void Tables_RejectWrongPositionShape()
    {
        using var _ = NewDisposeScope();
        var rope = new RotaryEmbedding(8, 10000);
        var ex = Assert.Throws<ArgumentException>(() => rope.Tables(zeros([3, 4], ScalarType.Int64), ScalarType.Float32));
        Assert.That(ex!.Message, Does.Contain("[1, S]").And.Contain("[3, 4]"));
    }
}
