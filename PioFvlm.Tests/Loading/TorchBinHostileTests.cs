using System.Diagnostics;
using PioFvlm.Core.IO;
using PioFvlm.Core.IO.TorchPickle;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Loading;

/// <summary>
/// Hostile and broken files: each must fail with a CheckpointFormatException that names the file and the fault,
/// before anything runs and without large allocations.
/// </summary>
public sealed class TorchBinHostileTests
{
    const string Marker = "/tmp/piofvlm-torchbin-pwned";   // what the exploit fixtures would create if run
    static byte[] Hand => TorchBinFiles.ReadEntry(TorchBinFiles.Fixture("hand_float2.bin"), "hand_float2/data.pkl");

    // The hand fixture's size (2,) and stride (1,): BININT1 n, TUPLE1.
    static readonly byte[] SizeTwo = [(byte)'K', 2, 0x85], StrideOne = [(byte)'K', 1, 0x85], StrideZero = [(byte)'K', 0, 0x85];

    static CheckpointFormatException Refused(string path)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => new TorchBinSource(path).Dispose());
        Assert.That(e!.Message, Does.Contain(Path.GetFileName(path)), "message names the file");
        return e;
    }

    [TestCase("evil_os_system.bin", "os.system")]
    [TestCase("evil_posix_system.bin", "posix.system")]
    [TestCase("evil_builtins_eval.bin", "__builtin__.eval")]
    [TestCase("evil_stack_global_exec.bin", "builtins.exec")]
    public void ExploitPickle_IsRefusedAtTheGlobal(string fixture, string global)
    {
        File.Delete(Marker);
        var e = Refused(TorchBinFiles.Fixture(fixture));
        Assert.That(e.Message, Does.Contain($"refused global '{global}'"));
        Assert.That(File.Exists(Marker), Is.False, "the payload must not have run");
    }

    [Test]
    public void TorchNnModuleGlobal_IsRefused()
    {
        var e = RefusedVariant("module", pickle => TorchBinFiles.ReplaceOnce(pickle, "ccollections\nOrderedDict\n"u8.ToArray(), "ctorch.nn\nModule\n"u8.ToArray()));
        Assert.That(e.Message, Does.Contain("refused global 'torch.nn.Module'"));
    }

    [Test]
    public void MissingStorageEntry_IsNamed()
    {
        using var dir = new TempDir();
        TorchBinFiles.Rewrite(TorchBinFiles.Fixture("hand_float2.bin"), dir.File("missing.bin"),
            (name, bytes) => name == "hand_float2/data/0" ? null : bytes);
        var e = Refused(dir.File("missing.bin"));
        Assert.That(e.Message, Does.Contain("hand_float2/data/0").And.Contain("'w'"));
    }

    [Test]
    public void ShortStorage_IsRefusedAtOpen()
    {
        using var dir = new TempDir();
        TorchBinFiles.Rewrite(TorchBinFiles.Fixture("hand_float2.bin"), dir.File("short.bin"),
            (name, bytes) => name == "hand_float2/data/0" ? bytes[..4] : bytes);
        var e = Refused(dir.File("short.bin"));
        Assert.That(e.Message, Does.Contain("4 bytes").And.Contain("8"));
    }

    [Test]
    public void BigEndian_IsRefused()
    {
        using var dir = new TempDir();
        TorchBinFiles.Rewrite(TorchBinFiles.Fixture("hand_float2.bin"), dir.File("big.bin"),
            (name, bytes) => name.EndsWith("/byteorder") ? "big"u8.ToArray() : bytes);
        Assert.That(Refused(dir.File("big.bin")).Message, Does.Contain("big-endian"));
    }

    [Test]
    public void UnknownOpcode_NamesByteAndPosition()
    {
        var e = RefusedVariant("opcode", pickle => [.. pickle[..2], 0xFF, .. pickle[2..]]);
        Assert.That(e.Message, Does.Contain("0xFF").And.Contain("byte 2"));
    }

    [Test]
    public void TruncatedPickle_AtEveryLength_FailsCleanly()
    {
        for (int length = 0; length < Hand.Length; length++)
        {
            var e = Assert.Throws<CheckpointFormatException>(() => RestrictedUnpickler.Load(Hand[..length], "cut.bin"), $"cut at {length}");
            Assert.That(e!.Message, Does.Contain("cut.bin"));
        }
        Assert.That(RefusedVariant("truncated", pickle => pickle[..100]).Message, Does.Contain("truncated"));
    }

    [Test]
    public void HugeSize_IsRefusedWithoutAllocating()
    {
        // size (2**40,) with stride (1,): the view would run far past the 2-element storage.
        byte[] huge = [0x8a, 6, 0, 0, 0, 0, 0, 1, 0x85];
        var e = RefusedVariant("huge", pickle => TorchBinFiles.ReplaceOnce(pickle, SizeTwo, huge));
        Assert.That(e.Message, Does.Contain("1099511627776").And.Contain("past the end"));
    }

    [Test]
    public void HugeSizeWithZeroStride_IsRefusedWithoutAllocating()
    {
        // size (2**40,) with stride (0,): in bounds, but materialising it would need 4 TiB.
        byte[] huge = [0x8a, 6, 0, 0, 0, 0, 0, 1, 0x85];
        var e = RefusedVariant("expand", pickle => TorchBinFiles.ReplaceOnce(
            TorchBinFiles.ReplaceOnce(pickle, SizeTwo, huge), StrideOne, StrideZero));
        Assert.That(e.Message, Does.Contain("more than its storage holds"));
    }

    [Test]
    public void HugeStorageElementCount_IsRefusedFromTheZipDirectory()
    {
        // persistent id numel 2**40: the 8-byte entry cannot hold it; refused before reading any tensor bytes.
        byte[] huge = [0x8a, 6, 0, 0, 0, 0, 0, 1, (byte)'t'];
        var e = RefusedVariant("numel", pickle => TorchBinFiles.ReplaceOnce(pickle, "K\x02t"u8.ToArray(), huge));
        Assert.That(e.Message, Does.Contain("8 bytes").And.Contain("1099511627776"));
    }

    [Test]
    public void RandomByteFlips_OnlyEverRaiseCheckpointFormatException()
    {
        var random = new Random(20240607);
        var stopwatch = Stopwatch.StartNew();
        for (int trial = 0; trial < 3000; trial++)
        {
            var bytes = (byte[])Hand.Clone();
            for (int flips = random.Next(1, 4); flips > 0; flips--) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            try
            {
                TorchStateDict.From(RestrictedUnpickler.Load(bytes, "fuzz.bin"), "fuzz.bin");
            }
            catch (CheckpointFormatException)
            {
            }
        }
        Assert.That(stopwatch.Elapsed.TotalSeconds, Is.LessThan(10), "3000 mutated pickles must not hang");
    }

    [Test]
    public void CorruptStorageBytes_DoNotStopListing_AndFailOnLoad()
    {
        // The storage entry is deflated with a broken stream: opening and listing must not touch it (only data.pkl
        // and the zip directory are read), and Load must report the entry.
        using var dir = new TempDir();
        string path = dir.File("corrupt.bin");
        using (var zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Create))
        {
            foreach (var (name, level, bytes) in new[]
            {
                ("archive/data.pkl", System.IO.Compression.CompressionLevel.NoCompression, Hand),
                ("archive/data/0", System.IO.Compression.CompressionLevel.Optimal, new byte[8]),
            })
            {
                using var stream = zip.CreateEntry(name, level).Open();
                stream.Write(bytes);
            }
        }
        var raw = File.ReadAllBytes(path);
        int dataAt = LocalHeaderOf(raw, "archive/data/0");
        raw[dataAt] = 0xFF;   // first deflate block: BFINAL=1, BTYPE=11 (reserved) -> invalid stream
        File.WriteAllBytes(path, raw);

        using var source = new TorchBinSource(path);
        Assert.That(source.Entries.Keys, Is.EqualTo(new[] { "w" }));
        var e = Assert.Throws<CheckpointFormatException>(() => source.Load("w"));
        Assert.That(e!.Message, Does.Contain("archive/data/0").And.Contain("'w'"));
    }

    /// <summary>Offset of the first data byte of <paramref name="entry"/> in a zip file (after its local header).</summary>
    static int LocalHeaderOf(byte[] zip, string entry)
    {
        byte[] name = System.Text.Encoding.ASCII.GetBytes(entry);
        for (int at = 0; at + 30 <= zip.Length; at++)
        {
            if (zip[at] != 'P' || zip[at + 1] != 'K' || zip[at + 2] != 3 || zip[at + 3] != 4) continue;
            int nameLength = zip[at + 26] | zip[at + 27] << 8, extraLength = zip[at + 28] | zip[at + 29] << 8;
            if (zip.AsSpan(at + 30, nameLength).SequenceEqual(name)) return at + 30 + nameLength + extraLength;
        }
        throw new AssertionException($"no local header for {entry}");
    }

    [Test]
    public void LegacyRawPickle_AndNonZip_AreNamed()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("legacy.bin"), [0x80, 0x02, 0x8a, 0x0a]);
        Assert.That(Refused(dir.File("legacy.bin")).Message, Does.Contain("legacy"));
        File.WriteAllText(dir.File("text.bin"), "version https://git-lfs.github.com/spec/v1");
        Assert.That(Refused(dir.File("text.bin")).Message, Does.Contain("not a zip"));
    }

    /// <summary>hand_float2.bin with its data.pkl edited.</summary>
    static CheckpointFormatException RefusedVariant(string name, Func<byte[], byte[]> editPickle)
    {
        using var dir = new TempDir();
        string path = dir.File(name + ".bin");
        TorchBinFiles.Rewrite(TorchBinFiles.Fixture("hand_float2.bin"), path,
            (entry, bytes) => entry.EndsWith("/data.pkl") ? editPickle(bytes) : bytes);
        return Refused(path);
    }
}
