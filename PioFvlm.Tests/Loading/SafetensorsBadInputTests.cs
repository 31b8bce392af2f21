using System.Diagnostics;
using PioFvlm.Core.IO;
using PioFvlm.Core.IO.Safetensors;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Loading;

/// <summary>Each malformed file gives a CheckpointFormatException naming the file, the tensor and the problem.</summary>
public class SafetensorsBadInputTests
{
    TempDir _dir = null!;
    string _path = null!;

    [SetUp]
    public void Create()
    {
        _dir = new TempDir();
        _path = _dir.File("bad.safetensors");
    }

    [TearDown]
    public void Remove() => _dir.Dispose();

    CheckpointFormatException Fails(string? tensor, params string[] phrases)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => new SafetensorsFile(_path).Dispose())!;
        Assert.That(e.Message, Does.Contain(_path), "message names the file");
        Assert.That(e.TensorName, Is.EqualTo(tensor));
        if (tensor != null) Assert.That(e.Message, Does.Contain($"'{tensor}'"));
        foreach (var phrase in phrases) Assert.That(e.Message, Does.Contain(phrase));
        return e;
    }

    [Test]
    public void FileShorterThanTheLengthPrefix()
    {
        File.WriteAllBytes(_path, [1, 2, 3, 4, 5]);
        Fails(null, "5 bytes", "truncated");
    }

    [Test]
    public void DataShorterThanTheHeaderPromises()
    {
        RawSafetensors.Write(_path, """{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", new byte[4]);
        Fails("w", "4 data bytes", "truncated");
    }

    [Test]
    public void HeaderLengthLargerThanTheFile()
    {
        RawSafetensors.Write(_path, """{}""", headerLength: 1000);
        Fails(null, "header length 1000", "larger than");
    }

    [Test]
    public void HeaderLengthOverTheLimitInALargeSparseFile()
    {
        RawSafetensors.Write(_path, "{}", headerLength: 150_000_000);
        using (var f = new FileStream(_path, FileMode.Open)) f.SetLength(160_000_000); // sparse: costs no disk
        Fails(null, "150000000", "limit");
    }

    [Test]
    public void HeaderThatIsNotJson()
    {
        RawSafetensors.Write(_path, """{"w": {"dtype": "F32", """);
        Fails(null, "not valid JSON");
    }

    [Test]
    public void HeaderThatIsAJsonArray()
    {
        RawSafetensors.Write(_path, "[1, 2, 3]");
        Fails(null, "not a JSON object");
    }

    [Test]
    public void GitLfsPointerFile()
    {
        File.WriteAllText(_path, "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a2146\nsize 4939174752\n");
        Fails(null, "is this an LFS pointer? run git lfs pull");
    }

    [Test]
    public void UnknownDtype()
    {
        RawSafetensors.Write(_path, """{"w":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}""", new byte[4]);
        Fails("w", "F8_E4M3", "unknown");
    }

    [Test]
    public void ShapeTimesDtypeSizeDiffersFromTheByteRange()
    {
        RawSafetensors.Write(_path, """{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", new byte[8]);
        Fails("w", "needs 12 bytes", "hold 8");
    }

    [Test]
    public void OffsetsBeyondTheData()
    {
        RawSafetensors.Write(_path, """{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", new byte[8]);
        Fails("w", "[8, 12]", "8 data bytes");
    }

    [Test]
    public void OffsetsThatBeginAfterTheyEnd()
    {
        RawSafetensors.Write(_path, """{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}""", new byte[8]);
        Fails("w", "begin after they end");
    }

    [Test]
    public void OverlappingByteRanges()
    {
        RawSafetensors.Write(_path,
            """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""",
            new byte[12]);
        Fails("b", "overlap", "'a'");
    }

    [Test]
    public void DuplicateTensorNames()
    {
        RawSafetensors.Write(_path,
            """{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}""",
            new byte[2]);
        Fails("w", "twice");
    }

    [Test]
    public void NegativeShape()
    {
        RawSafetensors.Write(_path, """{"w":{"dtype":"U8","shape":[-2],"data_offsets":[0,0]}}""");
        Fails("w", "negative", "-2");
    }

    [TestCase("2.5")]
    [TestCase("2e0")]
    [TestCase("\"2\"")]
    [TestCase("null")]
    public void NonIntegerShape(string dimension)
    {
        RawSafetensors.Write(_path, $$$"""{"w":{"dtype":"U8","shape":[{{{dimension}}}],"data_offsets":[0,2]}}""", new byte[2]);
        Fails("w", "not an integer");
    }

    [Test]
    public void HostileShapeThatOverflowsIsRejectedWithoutAllocating()
    {
        RawSafetensors.Write(_path, """{"w":{"dtype":"F64","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,8]}}""", new byte[8]);
        AssertCheapFailure(() => new SafetensorsFile(_path), "too large");
    }

    [Test]
    public void HostileShapeOfTerabytesIsRejectedWithoutAllocating()
    {
        RawSafetensors.Write(_path, """{"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4]}}""", new byte[4]);
        AssertCheapFailure(() => new SafetensorsFile(_path), "4000000000000 bytes");
    }

    [Test]
    public void HostileHeaderLengthIsRejectedWithoutAllocating()
    {
        RawSafetensors.Write(_path, "{}", headerLength: ulong.MaxValue - 7);
        AssertCheapFailure(() => new SafetensorsFile(_path), "larger than");
    }

    /// <summary>Throws within a second having allocated under 1 MB of managed memory (and so no tensor either:
    /// tensors are created only by Load, which these constructors never reach).</summary>
    static void AssertCheapFailure(Func<IDisposable> open, string phrase)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<CheckpointFormatException>(() => open().Dispose())!;
        clock.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(e.Message, Does.Contain(phrase));
        Assert.That(allocated, Is.LessThan(1 << 20), "managed bytes allocated before failing");
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)));
    }

    [Test]
    public void FileThatShrinksBelowAMultiChunkTensorFailsAsTruncated()
    {
        // The header was valid when opened, but the data is gone by the time a tensor of several chunks is read
        // (parallel chunk reads must still surface the specific exception).
        File.WriteAllBytes(_path, new byte[1000]);
        using var handle = File.OpenHandle(_path);
        using var target = TorchSharp.torch.empty(3 * TensorBytes.ChunkBytes / 4);
        var e = Assert.Throws<CheckpointFormatException>(() => TensorBytes.ReadInto(handle, 8, target, _path, "w"))!;
        Assert.That(e.TensorName, Is.EqualTo("w"));
        Assert.That(e.Message, Does.Contain("truncated").And.Contain("file ends at byte"));
    }

    [Test]
    public void LoadingANameTheFileDoesNotHoldNamesIt()
    {
        RawSafetensors.Write(_path, """{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}""", [7]);
        using var file = new SafetensorsFile(_path);
        var e = Assert.Throws<KeyNotFoundException>(() => file.Load("v"))!;
        Assert.That(e.Message, Does.Contain("'v'").And.Contain(_path));
    }
}
