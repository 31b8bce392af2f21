using PioFvlm.Core.Pruning.Saliency;

namespace PioFvlm.Tests.Pruning;

public sealed class SaliencyWindowTests
{
    // Spec pio-fvlm.md §2.2: shifted length L = S − 1, indices L−1−k clamped to [0, L−1], a set; L ≤ 0 → {0}.
    [TestCase(10, new long[] { 5, 6, 7, 8 })]
    [TestCase(6, new long[] { 1, 2, 3, 4 })]
    [TestCase(5, new long[] { 0, 1, 2, 3 })]
    [TestCase(4, new long[] { 0, 1, 2 })]
    [TestCase(2, new long[] { 0 })]
    [TestCase(1, new long[] { 0 })]
    public void Reference_IsTheFourBeforeTheLast_Clamped(long length, long[] expected) =>
        Assert.That(SupervisedPositions.For(length, SupervisionWindow.Reference, 4), Is.EqualTo(expected));

    [TestCase(10, new long[] { 6, 7, 8, 9 })]
    [TestCase(6, new long[] { 2, 3, 4, 5 })]
    [TestCase(4, new long[] { 0, 1, 2, 3 })]
    [TestCase(2, new long[] { 0, 1 })]
    [TestCase(1, new long[] { 0 })]
    public void IncludeLastToken_EndsAtTheLast(long length, long[] expected) =>
        Assert.That(SupervisedPositions.For(length, SupervisionWindow.IncludeLastToken, 4), Is.EqualTo(expected));

    [Test]
    public void OtherWindowSizes()
    {
        Assert.That(SupervisedPositions.For(10, SupervisionWindow.Reference, 1), Is.EqualTo(new long[] { 8 }));
        Assert.That(SupervisedPositions.For(10, SupervisionWindow.IncludeLastToken, 2), Is.EqualTo(new long[] { 8, 9 }));
        Assert.That(SupervisedPositions.For(3, SupervisionWindow.Reference, 8), Is.EqualTo(new long[] { 0, 1 }));
    }

    [Test]
    public void BadArguments_Throw()
    {
        Assert.Throws<ArgumentException>(() => SupervisedPositions.For(0, SupervisionWindow.Reference, 4));
        Assert.Throws<ArgumentException>(() => SupervisedPositions.For(5, SupervisionWindow.Reference, 0));
        Assert.Throws<ArgumentException>(() => new GradientSaliency(new GradientSaliencyOptions { WindowSize = 0 }));
        Assert.Throws<ArgumentException>(() => new GradientSaliency(new GradientSaliencyOptions { Probe = (ProbeImplementation)7 }));
    }

    [Test]
    public void Defaults_AreTheLlavaReference()
    {
        var o = new GradientSaliency().Options;
        Assert.That((o.ProbeLayerOffset, o.Head, o.Window, o.WindowSize, o.Fp32Gradient, o.Probe),
            Is.EqualTo((0, ProbeHead.FinalNormLmHead, SupervisionWindow.Reference, 4, false, ProbeImplementation.Cheap)));
        var q = GradientSaliencyOptions.QwenReference;
        Assert.That((q.ProbeLayerOffset, q.Head), Is.EqualTo((-1, ProbeHead.InputEmbeddings)));
    }
}
