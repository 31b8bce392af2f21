using System.IO.Compression;

namespace PioFvlm.Tests.Loading;

/// <summary>Fixture paths and zip surgery for the torch .bin tests (variants of a fixture with one thing broken).</summary>
static class TorchBinFiles
{
    public static string Fixture(string name) =>
        Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "torchbin", name);

    /// <summary>Copies <paramref name="source"/> to <paramref name="target"/>, letting <paramref name="edit"/> change
    /// each entry's bytes (return null to drop the entry). Entries stay stored uncompressed.</summary>
    public static void Rewrite(string source, string target, Func<string, byte[], byte[]?> edit)
    {
        var entries = new List<(string Name, byte[] Bytes)>();
        using (var zip = ZipFile.OpenRead(source))
        {
            foreach (var entry in zip.Entries)
            {
                using var stream = entry.Open();
                using var copy = new MemoryStream();
                stream.CopyTo(copy);
                if (edit(entry.FullName, copy.ToArray()) is { } bytes) entries.Add((entry.FullName, bytes));
            }
        }
        Write(target, entries);
    }

    public static void Write(string target, IEnumerable<(string Name, byte[] Bytes)> entries)
    {
        using var zip = ZipFile.Open(target, ZipArchiveMode.Create);
        foreach (var (name, bytes) in entries)
        {
            using var stream = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
            stream.Write(bytes);
        }
    }

    /// <summary>Replaces the single occurrence of <paramref name="find"/> in <paramref name="bytes"/>.</summary>
    public static byte[] ReplaceOnce(byte[] bytes, byte[] find, byte[] replacement)
    {
        int at = bytes.AsSpan().IndexOf(find);
        Assert.That(at, Is.GreaterThanOrEqualTo(0), "pattern to replace not found");
        Assert.That(bytes.AsSpan(at + 1).IndexOf(find), Is.LessThan(0), "pattern to replace is not unique");
        return [.. bytes[..at], .. replacement, .. bytes[(at + find.Length)..]];
    }

    public static byte[] ReadEntry(string zipPath, string entryName)
    {
        using var zip = ZipFile.OpenRead(zipPath);
        var entry = zip.GetEntry(entryName) ?? throw new AssertionException($"{zipPath} has no entry {entryName}");
        using var stream = entry.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
