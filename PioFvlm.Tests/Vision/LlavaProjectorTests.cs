using PioFvlm.Models.Llava;
using PioFvlm.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Vision;

public class LlavaProjectorTests
{
    [Test]
    public void KeysAreHfNames()
    {
        var projector = new LlavaProjector(32, 64);
        Assert.That(projector.state_dict().Keys, Is.EquivalentTo(new[] { "linear_1.weight", "linear_1.bias", "linear_2.weight", "linear_2.bias" }));
        Assert.That(projector.state_dict()["linear_1.weight"].shape, Is.EqualTo(new long[] { 64, 32 }));
        Assert.That(projector.state_dict()["linear_2.weight"].shape, Is.EqualTo(new long[] { 64, 64 }));
    }

    [Test]
    public void EqualsHandFormulaWithExactErfGelu()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var projector = new LlavaProjector(32, 64);
        var sd = projector.state_dict();
        var x = randn(2, 49, 32) * 3;   // wide range so tanh-GELU would differ from erf-GELU

        // y = W2 · gelu(W1 x + b1) + b2 with gelu(t) = t · Φ(t) = 0.5 t (1 + erf(t / √2)).
        var t = matmul(x, sd["linear_1.weight"].t()) + sd["linear_1.bias"];
        var g = 0.5 * t * (1 + special.erf(t / Math.Sqrt(2)));
        var expected = matmul(g, sd["linear_2.weight"].t()) + sd["linear_2.bias"];

        TensorAssert.Close(projector.forward(x), expected, atol: 1e-5, rtol: 1e-5, what: "projector");
    }
}
