using System.Buffers.Binary;
using System.Text.Json;
using PioFvlm.Core.IO.Safetensors;
using PioFvlm.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Loading;

public class SafetensorsRoundTripTests
{
    static readonly ScalarType[] AllDTypes =
    [
        ScalarType.Float64, ScalarType.Float32, ScalarType.Float16, ScalarType.BFloat16, ScalarType.Int64,
        ScalarType.Int32, ScalarType.Int16, ScalarType.Int8, ScalarType.Byte, ScalarType.Bool,
    ];

    /// <summary>Values spanning the type: negatives for signed ints, 0..255 for bytes, random bits for bool.</summary>
    static Tensor Sample(ScalarType dtype, params long[] shape) => dtype switch
    {
        ScalarType.Bool => rand(shape) > 0.5,
        ScalarType.Byte => randint(0, 256, shape, ScalarType.Byte),
        ScalarType.Int8 => randint(-128, 128, shape, ScalarType.Int8),
        ScalarType.Int16 => randint(-32768, 32768, shape, ScalarType.Int16),
        ScalarType.Int32 => randint(int.MinValue, int.MaxValue, shape, ScalarType.Int32),
        ScalarType.Int64 => randint(long.MinValue / 2, long.MaxValue / 2, shape, ScalarType.Int64),
        _ => (randn(shape, ScalarType.Float64) * 100).to(dtype),
    };

    [TestCaseSource(nameof(AllDTypes))]
    public void EveryDTypeRoundTripsExactly(ScalarType dtype)
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var tensors = new (string, Tensor)[]
        {
            ("matrix", Sample(dtype, 3, 5, 2)),
            ("scalar", Sample(dtype)),
            ("empty", Sample(dtype, 0, 4)),
        };
        string path = dir.File("all.safetensors");
        SafetensorsWriter.Write(path, tensors);

        using var file = new SafetensorsFile(path);
        Assert.That(file.Entries.Keys, Is.EquivalentTo(new[] { "matrix", "scalar", "empty" }));
        foreach (var (name, expected) in tensors)
        {
            Assert.That(file.Entries[name].DType, Is.EqualTo(dtype));
            Assert.That(file.Entries[name].Shape, Is.EqualTo(expected.shape));
            TensorAssert.Equal(file.Load(name), expected, $"{dtype} {name}");
        }
    }

    [Test]
    public void WrittenBytesFollowTheFormatByHand()
    {
        // Oracle: the format itself, decoded here with System.Text.Json and BinaryPrimitives, not with our reader.
        using var dir = new TempDir();
        string path = dir.File("hand.safetensors");
        using (var a = tensor(new float[] { 1f, -2f }))
        using (var b = tensor(new short[] { 1, -1, 258 }))
            SafetensorsWriter.Write(path, [("a", a), ("b", b)], new Dictionary<string, string> { ["format"] = "pt" });

        byte[] bytes = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.That((8 + headerLength) % 8, Is.Zero, "data starts 8-byte aligned");
        using var header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        var root = header.RootElement;
        Assert.That(root.GetProperty("__metadata__").GetProperty("format").GetString(), Is.EqualTo("pt"));
        Assert.That(root.GetProperty("a").GetProperty("dtype").GetString(), Is.EqualTo("F32"));
        Assert.That(root.GetProperty("b").GetProperty("dtype").GetString(), Is.EqualTo("I16"));
        Assert.That(root.GetProperty("a").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()), Is.EqualTo(new long[] { 0, 8 }));
        Assert.That(root.GetProperty("b").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()), Is.EqualTo(new long[] { 8, 14 }));
        Assert.That(root.GetProperty("b").GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()), Is.EqualTo(new long[] { 3 }));
        byte[] data = bytes[(int)(8 + headerLength)..];
        Assert.That(data, Is.EqualTo(new byte[] { 0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0, 1, 0, 0xFF, 0xFF, 2, 1 }));
    }

    [Test]
    public void ReaderDecodesAHandWrittenFile()
    {
        using var dir = new TempDir();
        string path = dir.File("hand.safetensors");
        RawSafetensors.Write(path,
            """{"__metadata__":{"k":"v"},"s":{"dtype":"I16","shape":[2],"data_offsets":[0,4]},"f":{"dtype":"BF16","shape":[1,1],"data_offsets":[4,6]}}   """,
            [1, 0, 0xFF, 0xFF, 0xC0, 0x3F]);
        using var file = new SafetensorsFile(path);
        Assert.That(file.Metadata, Is.EqualTo(new Dictionary<string, string> { ["k"] = "v" }));
        using var s = file.Load("s");
        using var f = file.Load("f");
        Assert.That(s.data<short>().ToArray(), Is.EqualTo(new short[] { 1, -1 }));
        Assert.That(f.dtype, Is.EqualTo(ScalarType.BFloat16));
        Assert.That(f.shape, Is.EqualTo(new long[] { 1, 1 }));
        Assert.That(f.to(ScalarType.Float32).item<float>(), Is.EqualTo(1.5f)); // bf16 0x3FC0 = 1.5
    }

    [Test]
    public void TensorLargerThanOneChunkRoundTrips()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var big = randn(5_000_011); // 20 MB of F32: two 16 MiB chunks, the last one ragged
        var strided = randn(64, 32).t(); // not contiguous: the writer must lay it out row-major
        string path = dir.File("big.safetensors");
        SafetensorsWriter.Write(path, [("big", big), ("strided", strided)]);
        using var file = new SafetensorsFile(path);
        TensorAssert.Equal(file.Load("big"), big, "big");
        TensorAssert.Equal(file.Load("strided"), strided, "strided");
    }

    [Test]
    public void MetadataRoundTrips()
    {
        using var dir = new TempDir();
        string path = dir.File("meta.safetensors");
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\"", ["empty"] = "" };
        using (var t = ones(2))
            SafetensorsWriter.Write(path, [("t", t)], metadata);
        using var file = new SafetensorsFile(path);
        Assert.That(file.Metadata, Is.EqualTo(metadata));
    }

    [Test]
    public void LoadConvertsDTypeOnRequest()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        string path = dir.File("conv.safetensors");
        var values = tensor(new float[] { 1.5f, -2.25f, 1e-3f, 3.14159f });
        SafetensorsWriter.Write(path, [("v", values), ("h", values.to(ScalarType.Float16))]);
        using var file = new SafetensorsFile(path);

        var asBf16 = file.Load("v", ScalarType.BFloat16);
        Assert.That(asBf16.dtype, Is.EqualTo(ScalarType.BFloat16));
        TensorAssert.Equal(asBf16, values.to(ScalarType.BFloat16), "F32 -> BF16");

        var asF64 = file.Load("h", ScalarType.Float64, CPU);
        Assert.That(asF64.dtype, Is.EqualTo(ScalarType.Float64));
        TensorAssert.Close(asF64, values.to(ScalarType.Float64), atol: 2e-3, rtol: 1e-3, what: "F16 -> F64");
        Assert.That(file.Load("v", ScalarType.Float32).dtype, Is.EqualTo(ScalarType.Float32));
    }

    [Test]
    public void WriteReplacesAtomicallyAndLeavesNoTemporaryFiles()
    {
        using var dir = new TempDir();
        string path = dir.File("m.safetensors");
        using var first = zeros(3);
        using var second = ones(5);
        SafetensorsWriter.Write(path, [("x", first)]);
        SafetensorsWriter.Write(path, [("x", second)]);
        Assert.That(Directory.GetFiles(dir.Path), Is.EqualTo(new[] { path }));
        using var file = new SafetensorsFile(path);
        TensorAssert.Equal(file.Load("x"), second, "replaced");
    }

    [Test]
    public void WriterRejectsDuplicateNamesAndUnsupportedDTypesBeforeWriting()
    {
        using var dir = new TempDir();
        string path = dir.File("no.safetensors");
        using var a = ones(2);
        using var c = ones(2, ScalarType.ComplexFloat32);
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, [("a", a), ("a", a)]));
        var e = Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, [("c", c)]))!;
        Assert.That(e.Message, Does.Contain("'c'"));
        Assert.That(Directory.GetFiles(dir.Path), Is.Empty);
    }

    [Test]
    public void LoadIsFreeOfNativeLeaks()
    {
        using var dir = new TempDir();
        string path = dir.File("leak.safetensors");
        using (var t = randn(4, 4)) SafetensorsWriter.Write(path, [("t", t)]);
        using var file = new SafetensorsFile(path);
        NativeMemory.AssertNoGrowth(() =>
        {
            using var a = file.Load("t");
            using var b = file.Load("t", ScalarType.BFloat16);
        }, what: "SafetensorsFile.Load");
    }
}
