using PioFvlm.Core.Nn;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Nn;

public sealed class KvCacheTests
{
    // Block whose value at (b, h, p, d) encodes the position p + offset, so gathers are easy to check.
    static Tensor Block(long positions, long offset, int kvHeads = 2, int headDim = 3) =>
        (arange(offset, offset + positions, dtype: ScalarType.Float32).view(1, 1, positions, 1)
         .expand(1, kvHeads, positions, headDim) * 1.0).contiguous();

    [Test]
    public void LengthsAreKeptPerLayer()
    {
        using var _ = NewDisposeScope();
        using var cache = new KvCache(3, 1, 2, 10, 3, ScalarType.Float32);
        cache.Append(0, Block(4, 0), Block(4, 100));
        cache.Append(2, Block(1, 0), Block(1, 100));
        cache.Append(0, Block(2, 4), Block(2, 104));
        Assert.That(cache.Lengths, Is.EqualTo(new long[] { 6, 0, 1 }));
        Assert.That(cache.Keys(0).shape, Is.EqualTo(new long[] { 1, 2, 6, 3 }));
        Assert.That(cache.Values(1).shape, Is.EqualTo(new long[] { 1, 2, 0, 3 }));
        TensorAssert.Equal(cache.Keys(0), Block(6, 0), "layer 0 keys after two appends");
        TensorAssert.Equal(cache.Values(0), Block(6, 100), "layer 0 values after two appends");
    }

    [Test]
    public void GatherKeepsTheChosenPositionsOfOneLayer()
    {
        using var _ = NewDisposeScope();
        using var cache = new KvCache(2, 1, 2, 10, 3, ScalarType.Float32);
        cache.Append(0, Block(8, 0), Block(8, 100));
        cache.Append(1, Block(8, 0), Block(8, 100));
        cache.Gather(1, tensor(new long[] { 0, 2, 3, 7 }));
        Assert.That(cache.Lengths, Is.EqualTo(new long[] { 8, 4 }));
        var kept = tensor(new float[] { 0, 2, 3, 7 }).view(1, 1, 4, 1).expand(1, 2, 4, 3);
        TensorAssert.Equal(cache.Keys(1), kept, "gathered keys");
        TensorAssert.Equal(cache.Values(1), kept + 100, "gathered values");
        TensorAssert.Equal(cache.Keys(0), Block(8, 0), "other layer untouched");

        // Appending continues after the kept positions.
        cache.Append(1, Block(1, 50), Block(1, 150));
        Assert.That(cache.LengthOf(1), Is.EqualTo(5));
        Assert.That(cache.Keys(1)[0, 0, 4, 0].item<float>(), Is.EqualTo(50f));
    }

    [Test]
    public void BytesInUseCountsUsedLengthNotCapacity()
    {
        using var _ = NewDisposeScope();
        using var cache = new KvCache(2, 1, 2, 100, 3, ScalarType.Float32);
        Assert.That(cache.BytesInUse, Is.EqualTo(0));
        Assert.That(cache.BytesAllocated, Is.EqualTo(2L * 2 * 2 * 100 * 3 * 4));
        cache.Append(0, Block(5, 0), Block(5, 0));
        cache.Append(1, Block(2, 0), Block(2, 0));
        long perPosition = 2 /*K and V*/ * 2 /*heads*/ * 3 /*dim*/ * 4 /*bytes*/;
        Assert.That(cache.BytesInUse, Is.EqualTo(7 * perPosition));
        cache.Gather(0, tensor(new long[] { 1 }));
        Assert.That(cache.BytesInUse, Is.EqualTo(3 * perPosition));
        cache.Reset();
        Assert.That(cache.BytesInUse, Is.EqualTo(0));
        Assert.That(cache.Lengths, Is.EqualTo(new long[] { 0, 0 }));
    }

    [Test]
    public void AppendPastCapacityThrowsAndNamesTheNumbers()
    {
        using var _ = NewDisposeScope();
        using var cache = new KvCache(1, 1, 2, 4, 3, ScalarType.Float32);
        cache.Append(0, Block(3, 0), Block(3, 0));
        var ex = Assert.Throws<InvalidOperationException>(() => cache.Append(0, Block(2, 3), Block(2, 3)));
        Assert.That(ex!.Message, Does.Contain("3 cached + 2 new").And.Contain("capacity 4"));
        Assert.That(cache.LengthOf(0), Is.EqualTo(3), "a failed append leaves the length unchanged");
    }

    [Test]
    public void BadInputsThrowClearErrors()
    {
        using var _ = NewDisposeScope();
        using var cache = new KvCache(2, 1, 2, 8, 3, ScalarType.Float32);
        cache.Append(0, Block(4, 0), Block(4, 0));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => cache.Gather(0, tensor(new long[] { 1, 4 })))!.Message,
            Does.Contain("[1, 4]").And.Contain("holds 4"));
        Assert.That(Assert.Throws<ArgumentException>(() => cache.Append(1, Block(2, 0, kvHeads: 4), Block(2, 0, kvHeads: 4)))!.Message,
            Does.Contain("[1, 4, 2, 3]"));
        Assert.That(Assert.Throws<ArgumentException>(() => cache.Append(1, Block(2, 0).to_type(ScalarType.Float64), Block(2, 0)))!.Message,
            Does.Contain("Float64"));
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.LengthOf(2));
    }
}
