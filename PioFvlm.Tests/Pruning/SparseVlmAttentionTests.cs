using PioFvlm.Core.Pruning.SparseVlm;
using PioFvlm.Tests.Models;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>SparseVLM's rater rows against the full eager attention map and its rater rule against hand values.</summary>
public class SparseVlmAttentionTests
{
    [TestCase(false)]
    [TestCase(true)]
    public void RaterRowsEqualTheRowsOfTheFullEagerAttentionMap(bool gqa)
    {
        using var scope = NewDisposeScope();
        var lm = gqa ? TinyLlama.Create(TinyLlama.Gqa, ScalarType.Float64, seed: 5) : PruningTestKit.Model();
        manual_seed(3);
        var hidden = randn(1, 12, lm.Dims.HiddenSize, dtype: ScalarType.Float64);
        long[] positions = [0, 1, 2, 3, 4, 9, 10, 11, 12, 13, 14, 20];        // gaps: RoPE must use the ids given
        long[] rows = [3, 7, 11];
        var actual = RaterAttention.Probabilities(lm, 1, hidden, tensor(positions).unsqueeze(0), rows);
        var full = SparseVlmReference.EagerAttention(lm, 1, hidden, positions);
        var expected = full.index_select(1, tensor(rows));
        Assert.That(actual.shape, Is.EqualTo(new long[] { lm.Dims.NumHeads, 3, 12 }));
        TensorAssert.Close(actual, expected, atol: 1e-5, rtol: 0, what: "rater rows of layer 1");
        Assert.That(actual[.., 0, 4..].abs().max().item<double>(), Is.EqualTo(0), "row 3 must not see keys after it");
    }

    [Test]
    public void RatersAreTheTextTokensAboveTheMeanRelevance()
    {
        using var scope = NewDisposeScope();
        // By hand: r = (0.439, 0.151, 0.410), mean 1/3, so text tokens 0 and 2 rate.
        var visual = tensor(new double[] { 1, 0, 0, 1 }, [2, 2]);
        var text = tensor(new double[] { 2, 0, 0, 0, 1, 1 }, [3, 2]);
        Assert.That(SparseVlmRaters.Select(visual, text), Is.EqualTo(new long[] { 0, 2 }));
        Assert.That(SparseVlmReference.Raters(SparseVlmReference.Rows(visual), SparseVlmReference.Rows(text)), Is.EqualTo(new long[] { 0, 2 }));
        // One text token has the mean relevance: the fallback makes it the rater.
        Assert.That(SparseVlmRaters.Select(visual, text.narrow(0, 0, 1)), Is.EqualTo(new long[] { 0 }));
    }

    [Test]
    public void RatersMatchTheLoopOracleOnRandomEmbeddings()
    {
        using var scope = NewDisposeScope();
        manual_seed(9);
        var visual = randn(20, 16, dtype: ScalarType.Float64);
        var text = randn(9, 16, dtype: ScalarType.Float64);
        var expected = SparseVlmReference.Raters(SparseVlmReference.Rows(visual), SparseVlmReference.Rows(text));
        Assert.That(expected.Length, Is.InRange(1, 8), "fixture: a proper subset rates");
        Assert.That(SparseVlmRaters.Select(visual, text), Is.EqualTo(expected));
    }
}
