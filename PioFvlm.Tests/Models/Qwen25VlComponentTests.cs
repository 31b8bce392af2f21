using PioFvlm.Core.Nn;
using PioFvlm.Models.Qwen25Vl;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>Qwen2.5-VL pieces against independent oracles: the spec's worked examples (A6, A8), a dense masked
/// attention, and 1-D RoPE.</summary>
public class Qwen25VlComponentTests
{
    [Test]
    public void WindowLayoutMatchesTheSpecWorkedExample()
    {
        // Spec A6: image A with grid (t, h, w) = (1, 10, 14) patches = 5 × 7 merged units, then image B (1, 8, 8) = 4 × 4,
        // windows of 2 × 2 merged units (window_size 56). B's sides divide evenly: HF's padded empty windows add nothing.
        var layout = new Qwen25VlWindowLayout([new(1, 10, 14), new(1, 8, 8)], merge: 2, windowMerged: 2);
        long[] expectedA = [0, 1, 7, 8, 2, 3, 9, 10, 4, 5, 11, 12, 6, 13, 14, 15, 21, 22, 16, 17, 23, 24, 18, 19, 25, 26, 20, 27, 28, 29, 30, 31, 32, 33, 34];
        long[] expectedB = [35, 36, 39, 40, 37, 38, 41, 42, 43, 44, 47, 48, 45, 46, 49, 50];
        Assert.That(layout.WindowIndex, Is.EqualTo(expectedA.Concat(expectedB).ToArray()), "window_index");
        Assert.That(layout.CuWindowSeqlens, Is.EqualTo(new long[] { 0, 16, 32, 48, 56, 72, 88, 104, 112, 120, 128, 136, 140, 156, 172, 188, 204 }), "cu_window_seqlens");
        Assert.That(layout.CuSeqlens, Is.EqualTo(new long[] { 0, 140, 204 }), "cu_seqlens");
        var reverse = layout.ReverseIndex();
        for (int i = 0; i < layout.WindowIndex.Length; i++) Assert.That(reverse[layout.WindowIndex[i]], Is.EqualTo(i));
        // Merge-block order: patch row ((bh·Wm + bw)·4 + ih·2 + iw) of image A sits at (bh·2 + ih, bw·2 + iw).
        Assert.That((layout.PatchRows[4 * 8 + 3], layout.PatchColumns[4 * 8 + 3]), Is.EqualTo((3L, 3L)), "patch (bh 1, bw 1, ih 1, iw 1)");
    }

    [Test]
    public void RopeIndexMatchesTheSpecWorkedExample()
    {
        // Spec A8: 10 text tokens, image A (5×7 merged = 35 tokens), 5 text tokens: L = 50, delta = −28.
        const int image = 9;
        var ids = Enumerable.Repeat(1, 10).Concat(Enumerable.Repeat(image, 35)).Concat(Enumerable.Repeat(1, 5)).ToList();
        var (rows, delta) = Qwen25VlRopeIndex.Compute(ids, image, [new Qwen25VlGrid(1, 10, 14)], 2);
        Assert.That(delta, Is.EqualTo(-28));
        for (int k = 0; k < 35; k++)
        {
            Assert.That(rows[0][10 + k], Is.EqualTo(10));
            Assert.That(rows[1][10 + k], Is.EqualTo(10 + k / 7));
            Assert.That(rows[2][10 + k], Is.EqualTo(10 + k % 7));
        }
        for (int r = 0; r < 3; r++) Assert.That(rows[r][45..], Is.EqualTo(new long[] { 17, 18, 19, 20, 21 }));
        Assert.Throws<ArgumentException>(() => Qwen25VlRopeIndex.Compute(ids.Take(40).ToList(), image, [new Qwen25VlGrid(1, 10, 14)], 2));
    }

    [Test]
    public void SegmentAttentionEqualsADenseBlockDiagonalMask()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        long[] cu = [0, 16, 32, 40, 44, 60, 61, 77];
        long n = cu[^1];
        var q = randn(n, 4, 8); var k = randn(n, 4, 8); var v = randn(n, 4, 8);
        var segment = zeros(n, dtype: ScalarType.Int64);
        for (int i = 1; i < cu.Length; i++) segment[TensorIndex.Slice(cu[i - 1], cu[i])] = i;
        var mask = segment.unsqueeze(1).eq(segment.unsqueeze(0));                       // [N, N] block diagonal
        var expected = nn.functional.scaled_dot_product_attention(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), mask).transpose(0, 1);
        TensorAssert.CloseReported(Qwen25VlSegmentAttention.Attend(q, k, v, cu), expected, 1e-6, 0, "grouped windows vs dense mask");
        Assert.Throws<ArgumentException>(() => Qwen25VlSegmentAttention.Attend(q, k, v, [0, 10, 10, n]));
    }

    [Test]
    public void MropeWithEqualRowsIsOrdinaryRope()
    {
        using var scope = NewDisposeScope();
        var positions = arange(0, 40, dtype: ScalarType.Int64).unsqueeze(0);
        var mrope = new RotaryEmbedding(16, 100.0, [2, 3, 3]).Tables(positions.expand(3, 40).contiguous(), ScalarType.Float32);
        var plain = new RotaryEmbedding(16, 100.0).Tables(positions, ScalarType.Float32);
        TensorAssert.Equal(mrope.Cos, plain.Cos, "cos");
        TensorAssert.Equal(mrope.Sin, plain.Sin, "sin");
        // Rows that differ change only their own section: slots 0-1 follow row t, 2-4 row h, 5-7 row w.
        var rows = stack([positions[0], positions[0] + 5, positions[0] + 9]);
        var split = new RotaryEmbedding(16, 100.0, [2, 3, 3]).Tables(rows, ScalarType.Float32);
        var h = new RotaryEmbedding(16, 100.0).Tables(rows[1].unsqueeze(0), ScalarType.Float32);
        TensorAssert.Equal(split.Cos[.., 2..5], h.Cos[.., 2..5], "height section from row 1");
        TensorAssert.Equal(split.Cos[.., 0..2], plain.Cos[.., 0..2], "temporal section from row 0");
    }
}
