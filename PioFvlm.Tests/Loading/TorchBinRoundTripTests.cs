using System.IO.Compression;
using PioFvlm.Core.IO.TorchPickle;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Loading;

/// <summary>TorchBinWriter -> TorchBinSource round trips; values must come back bit for bit.</summary>
public sealed class TorchBinRoundTripTests
{
    static IEnumerable<ScalarType> DTypes() =>
    [
        ScalarType.Float32, ScalarType.Float16, ScalarType.BFloat16, ScalarType.Float64, ScalarType.Int64,
        ScalarType.Int32, ScalarType.Int16, ScalarType.Int8, ScalarType.Byte, ScalarType.Bool,
    ];

    [TestCaseSource(nameof(DTypes))]
    public void RoundTrip_EachDType(ScalarType dtype)
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var original = dtype switch
        {
            ScalarType.Bool => randn(3, 5) > 0,
            ScalarType.Byte => randint(0, 256, [3, 5]).to_type(dtype),
            ScalarType.Int8 or ScalarType.Int16 or ScalarType.Int32 or ScalarType.Int64 => randint(-100, 100, [3, 5]).to_type(dtype),
            _ => (randn(3, 5) * 10).to_type(dtype),
        };
        TorchBinWriter.Write(dir.File("t.bin"), [("x.weight", original)]);

        using var source = new TorchBinSource(dir.File("t.bin"));
        Assert.That(source.Entries["x.weight"].DType, Is.EqualTo(dtype));
        Assert.That(source.Entries["x.weight"].Shape, Is.EqualTo(new long[] { 3, 5 }));
        TensorAssert.Equal(source.Load("x.weight"), original, $"{dtype} round trip");
    }

    [Test]
    public void SharedStorage_ViewsKeepOffsetsAndOneStorage()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var storage = arange(10, dtype: ScalarType.Float32);
        var a = storage.narrow(0, 2, 3);      // storage offset 2
        var b = storage.narrow(0, 6, 4);      // storage offset 6
        TorchBinWriter.Write(dir.File("s.bin"), [("a", a), ("b", b)]);

        using (var zip = ZipFile.OpenRead(dir.File("s.bin")))
            Assert.That(zip.Entries.Select(e => e.FullName).Where(n => n.StartsWith("archive/data/")), Is.EqualTo(new[] { "archive/data/0" }),
                "two views of one storage must share one storage entry");
        using var source = new TorchBinSource(dir.File("s.bin"));
        TensorAssert.Equal(source.Load("a"), tensor(new[] { 2f, 3f, 4f }), "a");
        TensorAssert.Equal(source.Load("b"), tensor(new[] { 6f, 7f, 8f, 9f }), "b");
    }

    [Test]
    public void Transposed_KeepsStridesAndReadsBackContiguous()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var t = arange(6, dtype: ScalarType.Float32).reshape(2, 3).t();   // shape [3, 2], strides [1, 3]
        Assert.That(t.is_contiguous(), Is.False, "precondition: the input is a strided view");
        TorchBinWriter.Write(dir.File("t.bin"), [("t", t)]);

        // The pickle must carry the view's strides, not a contiguous copy: stride (1, 3) is BININT1 1, BININT1 3, TUPLE2.
        var pickle = TorchBinFiles.ReadEntry(dir.File("t.bin"), "archive/data.pkl");
        Assert.That(pickle.AsSpan().IndexOf(new byte[] { (byte)'K', 1, (byte)'K', 3, 0x86 }), Is.GreaterThan(0), "stride tuple (1, 3)");
        using var source = new TorchBinSource(dir.File("t.bin"));
        var loaded = source.Load("t");
        Assert.That(loaded.is_contiguous(), Is.True);
        TensorAssert.Equal(loaded, tensor(new[] { 0f, 3f, 1f, 4f, 2f, 5f }).reshape(3, 2), "transposed");
    }

    [Test]
    public void ManyTensors_SpanSeveralSetItemsBatches_AndLongMemoIndices()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var tensors = Enumerable.Range(0, 1203).Select(i => ($"layer.{i}.w", full(new long[] { 1, 2, 1, 2 }, (float)i))).ToList();
        tensors.Add(("empty", zeros(0, 4)));
        tensors.Add(("scalar", tensor(-7L)));
        TorchBinWriter.Write(dir.File("m.bin"), tensors);

        using var source = new TorchBinSource(dir.File("m.bin"));
        Assert.That(source.Entries, Has.Count.EqualTo(1205));
        TensorAssert.Equal(source.Load("layer.1202.w"), full(new long[] { 1, 2, 1, 2 }, 1202f), "last of 1203");
        TensorAssert.Equal(source.Load("empty"), zeros(0, 4), "empty");
        TensorAssert.Equal(source.Load("scalar"), tensor(-7L), "scalar");
        Assert.That(source.Entries.Keys.Take(3), Is.EqualTo(new[] { "layer.0.w", "layer.1.w", "layer.2.w" }), "insertion order kept");
    }

    [Test]
    public void Writer_StoresEntriesUncompressed_WithTorchLayout()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        TorchBinWriter.Write(dir.File("w.bin"), [("w", ones(4))]);
        using var zip = ZipFile.OpenRead(dir.File("w.bin"));
        Assert.That(zip.Entries.Select(e => e.FullName), Is.EqualTo(new[]
            { "archive/data.pkl", "archive/byteorder", "archive/data/0", "archive/version" }));
        foreach (var e in zip.Entries)
            Assert.That(e.CompressedLength, Is.EqualTo(e.Length), $"{e.FullName} must be stored, not deflated");
        Assert.That(TorchBinFiles.ReadEntry(dir.File("w.bin"), "archive/byteorder"), Is.EqualTo("little"u8.ToArray()));
        Assert.That(TorchBinFiles.ReadEntry(dir.File("w.bin"), "archive/version"), Is.EqualTo("3\n"u8.ToArray()));
    }

    [Test]
    public void Writer_MatchesHandWrittenPickle_ByteForByte()
    {
        // The hand-written fixture follows CPython's pickler opcode by opcode, so our writer must produce the same
        // data.pkl and the same storage bytes for the same tensor.
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        TorchBinWriter.Write(dir.File("w.bin"), [("w", tensor(new[] { 1.5f, -2.0f }))]);
        var expected = TorchBinFiles.ReadEntry(TorchBinFiles.Fixture("hand_float2.bin"), "hand_float2/data.pkl");
        Assert.That(TorchBinFiles.ReadEntry(dir.File("w.bin"), "archive/data.pkl"), Is.EqualTo(expected));
        Assert.That(TorchBinFiles.ReadEntry(dir.File("w.bin"), "archive/data/0"),
            Is.EqualTo(TorchBinFiles.ReadEntry(TorchBinFiles.Fixture("hand_float2.bin"), "hand_float2/data/0")));
    }

    [Test]
    public void Writer_RefusesDuplicateNames()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var e = Assert.Throws<ArgumentException>(() => TorchBinWriter.Write(dir.File("d.bin"), [("w", ones(1)), ("w", ones(1))]));
        Assert.That(e!.Message, Does.Contain("'w'"));
    }
}
