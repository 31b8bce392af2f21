using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning.Attention;
using PioFvlm.Tests.Models;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

public class AttentionRowsTests
{
    static DecoderDims Dims(bool gqa) => (gqa ? TinyLlama.Gqa : TinyLlama.Mha) with { NumLayers = 3 };

    [TestCase(false, TestName = "Rows equal the eager matrix (MHA)")]
    [TestCase(true, TestName = "Rows equal the eager matrix (GQA)")]
    public void RowsEqualTheEagerMatrix(bool gqa)
    {
        using var ng = no_grad();
        using var scope = NewDisposeScope();
        using var lm = TinyLlama.Create(Dims(gqa), ScalarType.Float64, seed: 3);
        manual_seed(5);
        const int s = 17;
        var hidden = randn(1, s, 32, dtype: ScalarType.Float64);
        // Positions with gaps (as after a KeepOriginal prune) so RoPE must use the ids, not the indices.
        long[] ids = Enumerable.Range(0, s).Select(i => (long)(i < 6 ? i : i + 9)).ToArray();
        var positionIds = tensor(ids, ScalarType.Int64).unsqueeze(0);
        for (int layer = 0; layer < 3; layer++)
        {
            var full = AttentionRowsReference.FullMatrix(lm, layer, hidden, ids);
            long[] rows = [s - 1];
            TensorAssert.Close(AttentionRows.PerHead(lm, layer, hidden, positionIds, rows).to(ScalarType.Float64),
                               full.narrow(1, s - 1, 1), atol: 1e-5, rtol: 0, what: $"last row, layer {layer}");
            rows = [12, 0, 5, 16];
            var index = tensor(rows, ScalarType.Int64);
            TensorAssert.Close(AttentionRows.PerHead(lm, layer, hidden, positionIds, rows).to(ScalarType.Float64),
                               full.index_select(1, index), atol: 1e-5, rtol: 0, what: $"row set, layer {layer}");
            TensorAssert.Close(AttentionRows.HeadMean(lm, layer, hidden, positionIds, rows).to(ScalarType.Float64),
                               full.index_select(1, index).mean([0]), atol: 1e-5, rtol: 0, what: $"head mean, layer {layer}");
        }
    }

    [Test]
    public void Float32ModelMatchesTheFloat64Oracle()
    {
        using var ng = no_grad();
        using var scope = NewDisposeScope();
        using var lm = TinyLlama.Create(Dims(gqa: true), ScalarType.Float32, seed: 4);
        manual_seed(6);
        var hidden = randn(1, 9, 32);
        long[] ids = Enumerable.Range(0, 9).Select(i => (long)i).ToArray();
        var rows = AttentionRows.PerHead(lm, 1, hidden, tensor(ids, ScalarType.Int64).unsqueeze(0), [8, 3]);
        Assert.That(rows.dtype, Is.EqualTo(ScalarType.Float32));
        var full = AttentionRowsReference.FullMatrix(lm, 1, hidden, ids);
        TensorAssert.Close(rows.to(ScalarType.Float64), full.index_select(1, tensor(new long[] { 8, 3 })), atol: 1e-5, rtol: 0, what: "fp32 rows");
        // Masked entries are exactly zero and each row sums to one.
        Assert.That(rows[.., 1, 4..].abs().max().item<float>(), Is.EqualTo(0f));
        TensorAssert.Close(rows.sum(-1), ones(4, 2), atol: 1e-5, rtol: 0, what: "row sums");
    }

    [Test]
    public void BadArgumentsNameTheFault()
    {
        using var ng = no_grad();
        using var lm = TinyLlama.Create(Dims(false), ScalarType.Float64);
        using var hidden = zeros(1, 4, 32, dtype: ScalarType.Float64);
        using var ids = arange(4, dtype: ScalarType.Int64).unsqueeze(0);
        Assert.That(() => AttentionRows.PerHead(lm, 3, hidden, ids, [0]), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("layer 3"));
        Assert.That(() => AttentionRows.PerHead(lm, 0, hidden, ids, [4]), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("query row 4"));
        Assert.That(() => AttentionRows.PerHead(lm, 0, hidden, ids, []), Throws.ArgumentException.With.Message.Contains("no query rows"));
    }
}
