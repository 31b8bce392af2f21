using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Models.Text.Llama;
using PioFvlm.Tests.Models;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

public sealed class SaliencyGradientTests
{
    const long Length = 14, VisualStart = 3, VisualLength = 6;

    static GradientSaliency Scorer(ProbeImplementation probe, SupervisionWindow window = SupervisionWindow.Reference,
                                   int offset = 0, ProbeHead head = ProbeHead.FinalNormLmHead, bool fp32 = false) =>
        new(new GradientSaliencyOptions { Probe = probe, Window = window, ProbeLayerOffset = offset, Head = head, Fp32Gradient = fp32 });

    /// <summary>The proxy loss with the labels held fixed, from the model's own forward (layer range + Logits), no autograd.</summary>
    static double Loss(LlamaForCausalLM lm, Tensor x, Tensor positions, int layer, long[] window, long[] labels)
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        var z = lm.Logits(lm.RunLayers(x, positions, null, layer, layer + 1))[0].index_select(0, tensor(window));
        var picked = z.gather(1, tensor(labels).unsqueeze(1)).squeeze(1);
        return (z.logsumexp(1) - picked).mean().item<double>();
    }

    [TestCase(false, SupervisionWindow.Reference)]
    [TestCase(true, SupervisionWindow.IncludeLastToken)]
    public void Gradient_MatchesCentralFiniteDifferences_Fp64(bool gqa, SupervisionWindow windowKind)
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(SaliencyFixture.Dims(gqa), ScalarType.Float64);
        var state = SaliencyFixture.State(lm, Length, VisualStart, VisualLength);
        long[] window = windowKind == SupervisionWindow.Reference ? [9, 10, 11, 12] : [10, 11, 12, 13];
        var probe = Scorer(ProbeImplementation.Cheap, windowKind).Probe(state, lm);
        Assert.That(probe.WindowPositions, Is.EqualTo(window));

        // Labels = argmax of the unperturbed logits, computed here from the model's forward, then held fixed.
        var z0 = lm.Logits(lm.RunLayers(state.Hidden, state.PositionIds, null, 1, 2))[0].index_select(0, tensor(window));
        long[] labels = z0.argmax(1).data<long>().ToArray();
        Assert.That(probe.PseudoLabels, Is.EqualTo(labels));
        Assert.That(probe.Loss, Is.EqualTo(Loss(lm, state.Hidden, state.PositionIds, 1, window, labels)).Within(1e-12));

        const double eps = 1e-5;
        var coordinates = new (long Row, long Col)[] { (3, 0), (5, 17), (9, 31), (2, 5), (12, 9), (13, 4), (0, 1) };
        foreach (var (row, col) in coordinates)
        {
            var plus = state.Hidden.clone();
            plus[0, row, col] += eps;
            var minus = state.Hidden.clone();
            minus[0, row, col] -= eps;
            double fd = (Loss(lm, plus, state.PositionIds, 1, window, labels) - Loss(lm, minus, state.PositionIds, 1, window, labels)) / (2 * eps);
            double g = probe.Gradient[row, col].item<double>();
            if (windowKind == SupervisionWindow.Reference && row == 13)
            {
                // S−1 is after every supervised query: no path to the loss at all.
                Assert.That(g, Is.EqualTo(0.0), "the last position cannot influence a window that ends at S−2");
                Assert.That(Math.Abs(fd), Is.LessThan(1e-9));
                continue;
            }
            Assert.That(Math.Abs(g), Is.GreaterThan(1e-6), $"G[{row}, {col}] should not be negligible");
            Assert.That(Math.Abs(g - fd) / Math.Abs(fd), Is.LessThan(1e-6), $"G[{row}, {col}] = {g:G10}, finite difference {fd:G10}");
        }
    }

    [TestCase(ScalarType.Float32, false, SupervisionWindow.Reference, ProbeImplementation.Cheap, false)]
    [TestCase(ScalarType.Float32, true, SupervisionWindow.Reference, ProbeImplementation.Cheap, false)]
    [TestCase(ScalarType.Float32, true, SupervisionWindow.IncludeLastToken, ProbeImplementation.Cheap, false)]
    [TestCase(ScalarType.Float64, false, SupervisionWindow.IncludeLastToken, ProbeImplementation.Cheap, false)]
    [TestCase(ScalarType.Float64, true, SupervisionWindow.Reference, ProbeImplementation.Cheap, false)]
    [TestCase(ScalarType.Float64, true, SupervisionWindow.Reference, ProbeImplementation.Cheap, true)]      // q/k/v biases (Qwen2)
    [TestCase(ScalarType.Float32, true, SupervisionWindow.Reference, ProbeImplementation.CheapAllValues, false)]
    [TestCase(ScalarType.Float64, false, SupervisionWindow.IncludeLastToken, ProbeImplementation.CheapAllValues, true)]
    public void CheapProbe_EqualsFullProbe(ScalarType dtype, bool gqa, SupervisionWindow window, ProbeImplementation cheapKind, bool bias)
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(SaliencyFixture.Dims(gqa) with { AttentionBias = bias }, dtype);
        var state = SaliencyFixture.State(lm, Length, VisualStart, VisualLength);
        var cheap = Scorer(cheapKind, window).Probe(state, lm);
        var full = Scorer(ProbeImplementation.Full, window).Probe(state, lm);
        double tol = dtype == ScalarType.Float64 ? 1e-10 : 1e-5;
        double scale = full.Gradient.abs().max().to_type(ScalarType.Float64).item<double>();
        TensorAssert.Close(cheap.Gradient, full.Gradient, tol * scale, tol, $"G {cheapKind} vs full");
        Assert.That(cheap.Loss, Is.EqualTo(full.Loss).Within(tol * Math.Abs(full.Loss)), "loss");
        Assert.That(cheap.PseudoLabels, Is.EqualTo(full.PseudoLabels));
        var cheapScores = Scorer(cheapKind, window).Score(state, lm);
        var fullScores = Scorer(ProbeImplementation.Full, window).Score(state, lm);
        Assert.That(cheapScores.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(cheapScores.shape, Is.EqualTo(new long[] { VisualLength }));
        TensorAssert.Close(cheapScores, fullScores, tol * fullScores.max().item<float>(), Math.Max(tol, 1e-6), $"saliency {cheapKind} vs full");
        Assert.That(cheapScores.min().item<float>(), Is.GreaterThan(0f), "every visual token gets a gradient through K and V");
    }

    /// <summary>In bf16 the value fold rounds in other places: the cheap probe's scores stay within bf16 rounding of the
    /// probe before the fold (CheapAllValues) and of the full probe.</summary>
    [TestCase(false)]
    [TestCase(true)]
    public void Bf16CheapProbe_MatchesCheapAllValuesAndFull(bool gqa)
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        var dims = SaliencyFixture.Dims(gqa) with { HiddenSize = 128, HeadDim = 32, NumHeads = 4, NumKvHeads = gqa ? 2 : 4, IntermediateSize = 256, VocabSize = 128 };
        using var lm = TinyLlama.Create(dims, ScalarType.BFloat16);
        var state = SaliencyFixture.State(lm, Length, VisualStart, VisualLength);
        var cheap = Scorer(ProbeImplementation.Cheap).Score(state, lm);
        foreach (var other in new[] { ProbeImplementation.CheapAllValues, ProbeImplementation.Full })
        {
            var expected = Scorer(other).Score(state, lm);
            double scale = expected.max().item<float>();
            // bf16 activations through one layer and the head, rounded in other places: a few percent of the largest score.
            TensorAssert.Close(cheap, expected, 0.05 * scale, 0.05, $"bf16 cheap vs {other}");
        }
    }

    [TestCase(ScalarType.Float32, false, ProbeImplementation.Cheap, 0, ProbeHead.FinalNormLmHead, SupervisionWindow.Reference)]
    [TestCase(ScalarType.Float32, true, ProbeImplementation.Cheap, 0, ProbeHead.FinalNormLmHead, SupervisionWindow.Reference)]
    [TestCase(ScalarType.Float32, true, ProbeImplementation.Full, 0, ProbeHead.FinalNormLmHead, SupervisionWindow.IncludeLastToken)]
    [TestCase(ScalarType.Float32, true, ProbeImplementation.Cheap, -1, ProbeHead.InputEmbeddings, SupervisionWindow.Reference)]
    [TestCase(ScalarType.Float64, true, ProbeImplementation.Cheap, -1, ProbeHead.InputEmbeddings, SupervisionWindow.IncludeLastToken)]
    [TestCase(ScalarType.Float64, false, ProbeImplementation.Full, 0, ProbeHead.FinalNormLmHead, SupervisionWindow.Reference)]
    public void Saliency_MatchesHandWrittenReference(ScalarType dtype, bool gqa, ProbeImplementation probe, int offset,
                                                     ProbeHead head, SupervisionWindow window)
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(SaliencyFixture.Dims(gqa), dtype);
        var state = SaliencyFixture.State(lm, Length, VisualStart, VisualLength);
        long[] positions = window == SupervisionWindow.Reference ? [9, 10, 11, 12] : [10, 11, 12, 13];
        string headKey = head == ProbeHead.FinalNormLmHead ? "lm_head.weight" : "model.embed_tokens.weight";
        var (g, loss) = SaliencyReference.Gradient(lm, state, 1 + offset, positions, headKey, dtype);
        var expected = SaliencyReference.Norms(g, SaliencyFixture.Visual(state));

        var result = Scorer(probe, window, offset, head).ScoreWithDiagnostics(state, lm);
        double tol = dtype == ScalarType.Float64 ? 1e-10 : 1e-5;
        TensorAssert.Close(result.Scores, expected, tol * expected.max().item<float>(), Math.Max(tol, 1e-6), "saliency vs reference");
        Assert.That(result.Diagnostics.Loss, Is.EqualTo(loss).Within(tol * Math.Abs(loss)));
        Assert.That(result.Diagnostics.ProbeLayer, Is.EqualTo(1 + offset));
        Assert.That(result.Diagnostics.WindowPositions, Is.EqualTo(positions));
        Assert.That(result.Diagnostics.IsUsable, Is.True);
    }

    [TestCase(ProbeImplementation.Cheap)]
    [TestCase(ProbeImplementation.CheapAllValues)]
    [TestCase(ProbeImplementation.Full)]
    public void EagerKernel_MatchesHandWrittenReference(ProbeImplementation probe)
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(SaliencyFixture.Dims(true));
        var state = SaliencyFixture.State(lm, Length, VisualStart, VisualLength);
        lm.Kernel = PioFvlm.Core.Nn.AttentionKernel.Eager;
        var (g, _) = SaliencyReference.Gradient(lm, state, 1, [9, 10, 11, 12], "lm_head.weight", ScalarType.Float32);
        var expected = SaliencyReference.Norms(g, SaliencyFixture.Visual(state));
        TensorAssert.Close(Scorer(probe).Score(state, lm), expected, 1e-5 * expected.max().item<float>(), 1e-5, "eager saliency vs reference");
    }

    [Test]
    public void HeadAndLayerChoices_ChangeTheScores()
    {
        // Guards against an option that is silently ignored: each variant must differ from the default.
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(SaliencyFixture.Dims(false));
        var state = SaliencyFixture.State(lm, Length, VisualStart, VisualLength);
        var baseline = Scorer(ProbeImplementation.Cheap).Score(state, lm);
        foreach (var variant in new[]
                 {
                     Scorer(ProbeImplementation.Cheap, offset: -1), Scorer(ProbeImplementation.Cheap, head: ProbeHead.InputEmbeddings),
                     Scorer(ProbeImplementation.Cheap, SupervisionWindow.IncludeLastToken),
                 })
        {
            var other = variant.Score(state, lm);
            Assert.That((other - baseline).abs().max().item<float>(), Is.GreaterThan(1e-4f * baseline.max().item<float>()), variant.Options.ToString());
        }
    }

    [TestCase(ProbeImplementation.Cheap)]
    [TestCase(ProbeImplementation.Full)]
    public void Fp32Gradient_OnBf16Model_IsTheFp32ProbeOfTheBf16Weights(ProbeImplementation probe)
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(SaliencyFixture.Dims(true), ScalarType.BFloat16);
        var state = SaliencyFixture.State(lm, Length, VisualStart, VisualLength);
        Assert.That(state.Hidden.dtype, Is.EqualTo(ScalarType.BFloat16));

        var plain = Scorer(probe).Probe(state, lm);
        Assert.That(plain.Gradient.dtype, Is.EqualTo(ScalarType.BFloat16), "without the option the gradient has the model dtype");
        var wide = Scorer(probe, fp32: true).Probe(state, lm);
        Assert.That(wide.Gradient.dtype, Is.EqualTo(ScalarType.Float32));

        // Oracle: the hand-written probe in fp32 on the bf16 weights and hidden states widened to fp32.
        var (g, _) = SaliencyReference.Gradient(lm, state, 1, [9, 10, 11, 12], "lm_head.weight", ScalarType.Float32);
        var expected = SaliencyReference.Norms(g, SaliencyFixture.Visual(state));
        var scores = Scorer(probe, fp32: true).Score(state, lm);
        TensorAssert.Close(scores, expected, 1e-5 * expected.max().item<float>(), 1e-5, "fp32-gradient saliency vs fp32 reference");
        // The bf16 probe is a coarse version of the same thing.
        var coarse = Scorer(probe).Score(state, lm);
        TensorAssert.Close(coarse, expected, 0.1 * expected.max().item<float>(), 0.1, "bf16 saliency roughly the fp32 one");
    }
}
