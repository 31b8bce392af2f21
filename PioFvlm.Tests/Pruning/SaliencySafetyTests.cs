using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Tests.Models;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>Side effects, grad mode, leaks and diagnostics of the gradient saliency.</summary>
[NonParallelizable]
public sealed class SaliencySafetyTests
{
    const long Length = 12, VisualStart = 2, VisualLength = 5;

    static GradientSaliency Scorer(ProbeImplementation probe, bool fp32 = false) =>
        new(new GradientSaliencyOptions { Probe = probe, Fp32Gradient = fp32 });

    [TestCase(ProbeImplementation.Cheap)]
    [TestCase(ProbeImplementation.Full)]
    public void Score_LeavesCacheStateAndParametersAlone(ProbeImplementation probe)
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(SaliencyFixture.Dims(true));
        using var cache = KvCache.For(lm.Dims, 1, 32, ScalarType.Float32);
        var state = SaliencyFixture.State(lm, Length, VisualStart, VisualLength, layersDone: 1, cache: cache);
        Assert.That(cache.Lengths, Is.EqualTo(new long[] { Length, 0, 0 }));
        var keysBefore = Enumerable.Range(0, 3).Select(l => cache.Keys(l).clone()).ToArray();
        var valuesBefore = Enumerable.Range(0, 3).Select(l => cache.Values(l).clone()).ToArray();
        var hiddenBefore = state.Hidden.clone();
        var positionsBefore = state.PositionIds.clone();

        var scores = Scorer(probe).Score(state, lm);

        Assert.That(is_grad_enabled(), Is.False, "the caller's no_grad is restored");
        Assert.That(scores.requires_grad, Is.False);
        Assert.That(cache.Lengths, Is.EqualTo(new long[] { Length, 0, 0 }), "the probe must not append to any layer");
        for (int l = 0; l < 3; l++)
        {
            TensorAssert.Equal(cache.Keys(l), keysBefore[l], $"cache keys of layer {l}");
            TensorAssert.Equal(cache.Values(l), valuesBefore[l], $"cache values of layer {l}");
        }
        TensorAssert.Equal(state.Hidden, hiddenBefore, "state hidden");
        TensorAssert.Equal(state.PositionIds, positionsBefore, "state positions");
        Assert.That(state.Hidden.requires_grad, Is.False);
        foreach (var (name, p) in lm.named_parameters())
            Assert.That(p.grad, Is.Null, $"{name} got a .grad");
    }

    [Test]
    public void FrozenWeights_GiveTheSameScores()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(SaliencyFixture.Dims(false));
        var state = SaliencyFixture.State(lm, Length, VisualStart, VisualLength);
        var trainable = Scorer(ProbeImplementation.Cheap).Score(state, lm);
        foreach (var p in lm.parameters()) p.requires_grad_(false);
        foreach (var probe in new[] { ProbeImplementation.Cheap, ProbeImplementation.Full })
            TensorAssert.Equal(Scorer(probe).Score(state, lm).isfinite().all(), tensor(true), $"{probe} runs with frozen weights");
        TensorAssert.Close(Scorer(ProbeImplementation.Cheap).Score(state, lm), trainable, 0, 0, "frozen vs trainable");
    }

    [TestCase(ProbeImplementation.Cheap, false)]
    [TestCase(ProbeImplementation.Full, false)]
    [TestCase(ProbeImplementation.Full, true)]
    public void RepeatedScores_DoNotGrowLiveTensors(ProbeImplementation probe, bool fp32)
    {
        using var ng = no_grad();
        using var lm = TinyLlama.Create(SaliencyFixture.Dims(true), fp32 ? ScalarType.BFloat16 : ScalarType.Float32);
        using var scope = NewDisposeScope();
        var state = SaliencyFixture.State(lm, Length, VisualStart, VisualLength);
        var scorer = Scorer(probe, fp32);
        NativeMemory.AssertNoGrowth(() =>
        {
            using var inner = NewDisposeScope();
            var result = scorer.ScoreWithDiagnostics(state, lm);
            Assert.That(result.Diagnostics.IsUsable, Is.True);
        }, repeats: 3, what: $"{probe} saliency (fp32 gradient {fp32})");
        NativeMemory.AssertNoGrowth(() => scorer.Score(state, lm).Dispose(), repeats: 3, what: $"{probe} Score disposed by the caller");
    }

    [Test]
    public void ZeroHidden_DiagnosticsDescribeWhatCameOut()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(SaliencyFixture.Dims(false));
        var state = SaliencyFixture.State(lm, Length, VisualStart, VisualLength);
        state = state with { Hidden = zeros_like(state.Hidden) };
        var result = Scorer(ProbeImplementation.Cheap).ScoreWithDiagnostics(state, lm);
        // Zero input: uniform attention, zero layer output, uniform logits → loss = log(vocab); the gradient still
        // reaches the visual rows through v (RMSNorm's slope at 0 is 1/√eps), so the scores are finite, not all zero.
        Assert.That(result.Diagnostics.Loss, Is.EqualTo(Math.Log(lm.Dims.VocabSize)).Within(1e-5));
        Assert.That(result.Diagnostics.NonFiniteCount, Is.EqualTo(result.Scores.isfinite().logical_not().sum().item<long>()));
        Assert.That(result.Diagnostics.AllZero, Is.EqualTo(result.Scores.eq(0).all().item<bool>()));
        Assert.That(result.Diagnostics.NonFiniteCount, Is.Zero);
    }

    [Test]
    public void ZeroValueProjection_IsFlaggedAllZero()
    {
        // With v_proj = 0 the attention output is 0 whatever the keys, so nothing reaches a visual row: exactly zero.
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(SaliencyFixture.Dims(false));
        var state = SaliencyFixture.State(lm, Length, VisualStart, VisualLength);
        lm.Model.Layers[1].SelfAttention.VProj.weight!.zero_();
        var result = Scorer(ProbeImplementation.Cheap).ScoreWithDiagnostics(state, lm);
        Assert.That(result.Scores.eq(0).all().item<bool>(), Is.True);
        Assert.That(result.Diagnostics.AllZero, Is.True);
        Assert.That(result.Diagnostics.IsUsable, Is.False);
        Assert.That(result.Diagnostics.NonFiniteCount, Is.Zero);
    }

    [Test]
    public void NaNInHidden_IsFlaggedNonFinite()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(SaliencyFixture.Dims(false));
        var state = SaliencyFixture.State(lm, Length, VisualStart, VisualLength);
        var hidden = state.Hidden.clone();
        hidden[0, VisualStart + 1, 3] = float.NaN;
        var result = Scorer(ProbeImplementation.Cheap).ScoreWithDiagnostics(state with { Hidden = hidden }, lm);
        Assert.That(result.Diagnostics.NonFiniteCount, Is.GreaterThan(0));
        Assert.That(result.Diagnostics.NonFiniteCount, Is.EqualTo(result.Scores.isfinite().logical_not().sum().item<long>()));
        Assert.That(double.IsNaN(result.Diagnostics.Loss), Is.True);
        Assert.That(result.Diagnostics.IsUsable, Is.False);
    }

    [Test]
    public void NoVisualTokens_GiveAnEmptyScoreVector()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(SaliencyFixture.Dims(false));
        var state = SaliencyFixture.State(lm, Length, VisualStart, VisualLength) with { VisualSpans = [] };
        var result = Scorer(ProbeImplementation.Cheap).ScoreWithDiagnostics(state, lm);
        Assert.That(result.Scores.shape, Is.EqualTo(new long[] { 0 }));
        Assert.That(result.Scores.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(result.Diagnostics.AllZero, Is.False);
    }

    [Test]
    public void TwoSpans_AreConcatenatedInSequenceOrder()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(SaliencyFixture.Dims(false));
        var state = SaliencyFixture.State(lm, Length, VisualStart, VisualLength);
        var scorer = Scorer(ProbeImplementation.Cheap);
        var gradient = scorer.Probe(state, lm).Gradient;
        var twoSpans = state with { VisualSpans = [new VisualSpan(1, 2, 0), new VisualSpan(5, 3, 1)] };
        var expected = SaliencyReference.Norms(gradient, [1, 2, 5, 6, 7]);
        TensorAssert.Close(scorer.Score(twoSpans, lm), expected, 1e-6, 1e-5, "two spans");
        var reversed = state with { VisualSpans = [new VisualSpan(5, 3, 1), new VisualSpan(1, 2, 0)] };
        Assert.Throws<ArgumentException>(() => scorer.Score(reversed, lm));
    }

    [Test]
    public void ProbeLayerOutsideTheModel_Throws()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(SaliencyFixture.Dims(false));
        var state = SaliencyFixture.State(lm, Length, VisualStart, VisualLength, layersDone: 0);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new GradientSaliency(GradientSaliencyOptions.QwenReference).Score(state, lm));
        Assert.That(ex!.Message, Does.Contain("0 + -1 = -1"));
        var late = state with { LayersDone = 3 };
        Assert.Throws<ArgumentOutOfRangeException>(() => new GradientSaliency().Score(late, lm));
    }
}
