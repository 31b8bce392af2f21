using PioFvlm.Core.Pruning;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

public class VScanSignalsTests
{
    static readonly VisionSignalRequest Request = new() { ClsAttentionLayers = [5, -2], KeyLayers = [-2], HiddenStates = [-2] };

    /// <summary>
    /// Independent oracle: layer <paramref name="layer"/>'s CLS attention written out from its state-dict weights and
    /// its input hidden state: LN1, q of the CLS row, k of all rows, per-head softmax(q·kᵀ/√d) over all 1 + P keys.
    /// Returns [B, heads, 1 + P].
    /// </summary>
    static (Tensor Attention, Tensor Keys) Explicit(ClipVisionTower tower, Tensor input, int layer)
    {
        var d = tower.Dims;
        var sd = tower.state_dict();
        Tensor W(string key) => sd[$"vision_model.encoder.layers.{layer}.{key}"];
        var a = nn.functional.layer_norm(input, [d.Hidden], W("layer_norm1.weight"), W("layer_norm1.bias"), d.LayerNormEps);
        long b = input.shape[0];
        var q = (matmul(a.narrow(1, 0, 1), W("self_attn.q_proj.weight").t()) + W("self_attn.q_proj.bias"))
            .reshape(b, 1, d.Heads, d.HeadDim).permute(0, 2, 1, 3);
        var k = (matmul(a, W("self_attn.k_proj.weight").t()) + W("self_attn.k_proj.bias"))
            .reshape(b, -1, d.Heads, d.HeadDim).permute(0, 2, 1, 3);
        var scores = matmul(q, k.transpose(2, 3)) / Math.Sqrt(d.HeadDim);
        return (scores.softmax(-1).squeeze(2), k);
    }

    [Test]
    public void OnePassClsRowsEqualTheExplicitSoftmaxOfLayersFiveAndMinusTwo()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tower = VScanFixtures.Tower();
        var projector = new LlavaProjector(32, 16);
        VScanFixtures.Randomize(projector, 4);
        var pixels = VScanFixtures.Pixels(2);
        var states = tower.HiddenStates(pixels);   // states[i] = input of layer i

        var (projected, images) = LlavaVisionSignals.Compute(tower, projector, pixels, Request);
        Assert.That(images, Has.Count.EqualTo(2));
        Assert.That(projected.shape, Is.EqualTo(new long[] { 2, 576, 16 }));

        var (layer5, _) = Explicit(tower, states[5], 5);
        var (layer6, keys6) = Explicit(tower, states[6], 6);   // −2 of 8 layers
        var (layer7, _) = Explicit(tower, states[7], 7);
        for (int i = 0; i < 2; i++)
        {
            var s = images[i];
            Assert.That((s.GridHeight, s.GridWidth, s.EncoderLayers, s.FeaturesIncludeCls), Is.EqualTo((24, 24, 8, false)));
            TensorAssert.Close(s.ClsAttention(5), layer5[i].narrow(-1, 1, 576), atol: 1e-5, rtol: 1e-5, what: $"image {i} layer 5");
            TensorAssert.Close(s.ClsAttention(-2), layer6[i].narrow(-1, 1, 576), atol: 1e-5, rtol: 1e-5, what: $"image {i} layer −2");
            TensorAssert.Close(s.ClsAttention(6), s.ClsAttention(-2), atol: 0, rtol: 0, what: "6 and −2 are one layer");
            Assert.That((s.ClsAttention(-2) - layer7[i].narrow(-1, 1, 576)).abs().max().item<float>(), Is.GreaterThan(1e-4f),
                "−2 is not the last layer's attention");
            TensorAssert.Close(s.Keys(-2), keys6[i], atol: 1e-5, rtol: 1e-5, what: $"image {i} keys of layer −2");
            TensorAssert.Close(s.HiddenState(-2), states[7][i], atol: 1e-6, rtol: 1e-6, what: "hidden_states[−2]");
            TensorAssert.Close(s.SelectedFeatures, states[7][i].narrow(0, 1, 576), atol: 1e-6, rtol: 1e-6, what: "selected features");
            TensorAssert.Close(s.Project(s.SelectedFeatures), projected[i], atol: 1e-6, rtol: 1e-6, what: "projection");
        }
        // The patch columns do not sum to 1: CLS took its share of the softmax over all 577 keys.
        var sums = images[0].ClsAttention(5).sum(-1);
        Assert.That(sums.max().item<float>(), Is.LessThan(1f));
        TensorAssert.Close(sums + layer5[0].select(-1, 0), ones(4), atol: 1e-5, what: "patch + CLS columns");
    }

    [Test]
    public void FeaturesAreTheSameWithAndWithoutSignals()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tower = VScanFixtures.Tower();
        var pixels = VScanFixtures.Pixels(1);
        var pass = tower.EncodeWithSignals(pixels, [5, -2, -1], [3], [0, 8]);
        TensorAssert.Close(pass.Features, tower.forward(pixels), atol: 0, rtol: 0, what: "features");
        Assert.That(pass.ClsAttention.Keys.Order(), Is.EqualTo(new[] { 5, 6, 7 }), "resolved layers; −1 probes layer 7 without running it");
        Assert.That(pass.HiddenStates.Keys.Order(), Is.EqualTo(new[] { 0, 8 }));
        var old = tower.Encode(pixels, withClsAttention: true, withKeys: true);
        TensorAssert.Close(old.ClsAttention!, pass.ClsAttention[6], atol: 0, rtol: 0, what: "Encode's CLS row is layer 6's");
    }

    [Test]
    public void ASignalThatWasNotRequestedThrows()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tower = VScanFixtures.Tower();
        var (_, images) = LlavaVisionSignals.Compute(tower, new LlavaProjector(32, 16), VScanFixtures.Pixels(1), Request);
        Assert.That(() => images[0].ClsAttention(4), Throws.InvalidOperationException
            .With.Message.Contains("ClsAttentionLayers").And.Message.Contains("[5, -2]"));
        Assert.That(() => images[0].Keys(5), Throws.InvalidOperationException.With.Message.Contains("KeyLayers"));
        Assert.That(() => images[0].ClsAttention(8), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("8-layer"));
    }
}
