using System.Text.Json;
using PioFvlm.Core.IO;
using PioFvlm.Core.IO.Safetensors;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Loading;

public class ShardedSafetensorsTests
{
    TempDir _dir = null!;

    [SetUp]
    public void Create() => _dir = new TempDir();

    [TearDown]
    public void Remove() => _dir.Dispose();

    /// <summary>Six 64-byte tensors; with 128-byte shards they pack two per shard into three shards.</summary>
    static (string, Tensor)[] SixTensors() =>
        Enumerable.Range(0, 6).Select(i => ($"layers.{i}.weight", randn(4, 4))).ToArray();

    [Test]
    public void ThreeShardsRoundTripThroughTheIndex()
    {
        using var scope = NewDisposeScope();
        var tensors = SixTensors();
        string index = SafetensorsWriter.WriteSharded(_dir.Path, tensors, maxShardBytes: 128);

        Assert.That(Path.GetFileName(index), Is.EqualTo("model.safetensors.index.json"));
        // Oracle: the index read as plain JSON, independent of ShardedSafetensors.
        using (var doc = JsonDocument.Parse(File.ReadAllText(index)))
        {
            var map = doc.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
            Assert.That(map.Keys, Is.EquivalentTo(tensors.Select(t => t.Item1)));
            Assert.That(map.Values.Distinct(), Is.EquivalentTo(new[]
            {
                "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors",
            }));
            Assert.That(doc.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64(), Is.EqualTo(6 * 64));
        }

        using var source = CheckpointSource.Open(_dir.Path);
        Assert.That(source, Is.InstanceOf<ShardedSafetensors>());
        Assert.That(((ShardedSafetensors)source).Metadata["total_size"], Is.EqualTo("384"));
        Assert.That(source.Entries.Keys, Is.EquivalentTo(tensors.Select(t => t.Item1)));
        foreach (var (name, expected) in tensors)
            TensorAssert.Equal(source.Load(name), expected, name);
    }

    /// <summary>Two valid shards written by the writer, and a hand-written index over them.</summary>
    string TwoShardsWithIndex(string weightMapJson)
    {
        using var scope = NewDisposeScope();
        SafetensorsWriter.Write(_dir.File("s1.safetensors"), [("a", ones(2)), ("b", ones(3))]);
        SafetensorsWriter.Write(_dir.File("s2.safetensors"), [("c", ones(4))]);
        string index = _dir.File("model.safetensors.index.json");
        File.WriteAllText(index, $"{{\"metadata\": {{\"total_size\": 36}}, \"weight_map\": {weightMapJson}}}");
        return index;
    }

    static void Fails(string index, string tensor, params string[] phrases)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => new ShardedSafetensors(index).Dispose())!;
        Assert.That(e.Message, Does.Contain(index));
        Assert.That(e.TensorName, Is.EqualTo(tensor));
        foreach (var phrase in phrases) Assert.That(e.Message, Does.Contain(phrase));
    }

    [Test]
    public void HandWrittenIndexThatAgreesOpens()
    {
        string index = TwoShardsWithIndex("""{"a": "s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors"}""");
        using var source = new ShardedSafetensors(index);
        Assert.That(source.Entries["c"].File, Is.EqualTo(_dir.File("s2.safetensors")));
        using var c = source.Load("c");
        Assert.That(c.shape, Is.EqualTo(new long[] { 4 }));
    }

    [Test]
    public void IndexNamesATensorItsShardDoesNotHold()
    {
        string index = TwoShardsWithIndex("""{"a": "s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors", "d": "s2.safetensors"}""");
        Fails(index, "d", "s2.safetensors", "does not hold it");
    }

    [Test]
    public void ShardHoldsATensorTheIndexDoesNotList()
    {
        string index = TwoShardsWithIndex("""{"a": "s1.safetensors", "c": "s2.safetensors"}""");
        Fails(index, "b", "s1.safetensors", "does not list it");
    }

    [Test]
    public void IndexNamesAShardFileThatDoesNotExist()
    {
        string index = TwoShardsWithIndex("""{"a": "s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors", "e": "s3.safetensors"}""");
        Fails(index, "e", "'s3.safetensors'", "does not exist");
    }

    [Test]
    public void IndexPlacesATensorInTheWrongShard()
    {
        string index = TwoShardsWithIndex("""{"a": "s1.safetensors", "b": "s2.safetensors", "c": "s2.safetensors"}""");
        Fails(index, "b", "s2.safetensors");
    }

    [Test]
    public void IndexListsANameTwice()
    {
        string index = TwoShardsWithIndex("""{"a": "s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors", "a": "s2.safetensors"}""");
        Fails(index, "a", "twice");
    }

    [Test]
    public void IndexShardNameCannotLeaveTheFolder()
    {
        string index = TwoShardsWithIndex("""{"a": "../s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors"}""");
        Fails(index, "a", "not a plain file name");
    }

    [Test]
    public void OpenFindsASingleFileInAFolder()
    {
        using (var t = arange(6).reshape(2, 3))
            SafetensorsWriter.Write(_dir.File("model.safetensors"), [("t", t)]);
        using var source = CheckpointSource.Open(_dir.Path);
        Assert.That(source, Is.InstanceOf<SafetensorsFile>());
        using var loaded = source.Load("t");
        Assert.That(loaded.data<long>().ToArray(), Is.EqualTo(new long[] { 0, 1, 2, 3, 4, 5 }));
    }

    [Test]
    public void OpenOfAnEmptyFolderSaysWhatItLookedFor()
    {
        var e = Assert.Throws<FileNotFoundException>(() => CheckpointSource.Open(_dir.Path))!;
        Assert.That(e.Message, Does.Contain("model.safetensors").And.Contain(_dir.Path));
    }
}

/// <summary>Touches the global <see cref="CheckpointSource.BinOpener"/>, so runs alone.</summary>
[NonParallelizable]
public class CheckpointSourceBinTests
{
    sealed class FakeSource(string path) : ITensorSource
    {
        public string OpenedPath { get; } = path;
        public IReadOnlyDictionary<string, TensorEntry> Entries { get; } = new Dictionary<string, TensorEntry>();
        public Tensor Load(string name, ScalarType? dtype = null, Device? device = null) => throw new KeyNotFoundException(name);
        public void Dispose() { }
    }

    [Test]
    public void BinWithoutARegisteredReaderIsNotSupportedYet()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("pytorch_model.bin"), [0x50, 0x4B]);
        var saved = CheckpointSource.BinOpener;
        try
        {
            CheckpointSource.BinOpener = null;
            var e = Assert.Throws<NotSupportedException>(() => CheckpointSource.Open(dir.Path))!;
            Assert.That(e.Message, Does.Contain("pytorch_model.bin").And.Contain("not supported yet"));
        }
        finally
        {
            CheckpointSource.BinOpener = saved;
        }
    }

    [Test]
    public void BinGoesToTheRegisteredReader()
    {
        using var dir = new TempDir();
        string bin = dir.File("pytorch_model.bin");
        File.WriteAllBytes(bin, [0x50, 0x4B]);
        var saved = CheckpointSource.BinOpener;
        try
        {
            CheckpointSource.BinOpener = path => new FakeSource(path);
            using var source = CheckpointSource.Open(dir.Path);
            Assert.That(((FakeSource)source).OpenedPath, Is.EqualTo(bin));
        }
        finally
        {
            CheckpointSource.BinOpener = saved;
        }
    }
}
