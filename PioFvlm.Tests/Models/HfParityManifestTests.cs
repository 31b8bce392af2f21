using System.Text.Json;
using PioFvlm.Core.IO;

namespace PioFvlm.Tests.Models;

/// <summary>
/// TestData/hf_parity/manifest.json describes exactly what is committed (scripts/hf_parity/compact.py rewrites it after
/// dropping redundant tensors): same files, sizes and tensor lists; every generation-time check passed.
/// </summary>
public class HfParityManifestTests
{
    [Test]
    public void ManifestListsExactlyTheCommittedFilesAndTensors()
    {
        string root = HfFixtures.Root;
        string manifestPath = Path.Combine(root, "manifest.json");
        Assert.That(File.Exists(manifestPath), $"{manifestPath} missing");
        using var manifest = JsonDocument.Parse(File.ReadAllText(manifestPath));
        var listed = new HashSet<string>();
        foreach (var file in manifest.RootElement.GetProperty("files").EnumerateArray())
        {
            string rel = file.GetProperty("path").GetString()!;
            string path = Path.Combine(root, rel);
            listed.Add(rel);
            Assert.That(File.Exists(path), $"manifest lists {rel}, which is not there");
            Assert.That(new FileInfo(path).Length, Is.EqualTo(file.GetProperty("bytes").GetInt64()), $"{rel}: size differs from the manifest");
            if (!file.TryGetProperty("tensors", out var tensors)) continue;
            using var source = CheckpointSource.Open(path);
            var expected = tensors.EnumerateObject().ToDictionary(t => t.Name, t => t.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray());
            Assert.That(source.Entries.Keys, Is.EquivalentTo(expected.Keys), $"{rel}: tensor names differ from the manifest");
            foreach (var (name, shape) in expected)
                Assert.That(source.Entries[name].Shape, Is.EqualTo(shape), $"{rel}: {name} shape differs from the manifest");
        }
        var onDisk = Directory.GetFiles(root, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(root, p).Replace('\\', '/')).Where(p => p != "manifest.json").ToList();
        Assert.That(onDisk, Is.EquivalentTo(listed), "files on disk vs manifest");

        var checks = manifest.RootElement.GetProperty("checks").EnumerateObject()
            .Where(c => c.Value.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.False).Select(c => c.Name).ToList();
        Assert.That(checks, Is.Empty, "make_fixtures.py checks that failed");
        Assert.That(manifest.RootElement.GetProperty("errors").GetArrayLength(), Is.Zero, "make_fixtures.py errors");
        var compaction = manifest.RootElement.GetProperty("compaction");
        Assert.That(compaction.GetProperty("failures").GetArrayLength(), Is.Zero, "compact.py checks that failed");
        TestContext.Out.WriteLine($"{listed.Count} files; compaction removed from {compaction.GetProperty("removed").EnumerateObject().Count()} files/folders");
    }
}
