using System.Text.Json;
using PioFvlm.Core.IO.Safetensors;
using PioFvlm.Tests.Loading;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.CommandLine;

/// <summary>pio-fvlm inspect: exit 0 with the facts on a valid checkpoint, exit 1 naming the problem otherwise.</summary>
[NonParallelizable]
public class InspectCommandTests
{
    static string WriteValid(TempDir dir)
    {
        string path = dir.File("model.safetensors");
        using var scope = NewDisposeScope();
        SafetensorsWriter.Write(path, [("a.weight", ones(2, 3)), ("b.bias", zeros(new long[] { 4 }, ScalarType.BFloat16))]);
        return path;
    }

    [Test]
    public void ValidCheckpointPrintsCountsBytesAndDtypes()
    {
        using var dir = new TempDir();
        string path = WriteValid(dir);
        var (rc, stdout, stderr) = CliRunner.Run("inspect", path, "--verify");
        Assert.That(rc, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("tensors     2"));
        Assert.That(stdout, Does.Contain("bytes       32 "), "2x3 float32 (24 bytes) + 4 bfloat16 (8 bytes)");
        Assert.That(stdout, Does.Contain("Float32 x1").And.Contain("BFloat16 x1"));
        Assert.That(stdout, Does.Contain("verified    2 tensors read, 0 non-finite values"));
    }

    [Test]
    public void JsonOutputIsOneObjectWithTheSameFacts()
    {
        using var dir = new TempDir();
        string path = WriteValid(dir);
        var (rc, stdout, _) = CliRunner.Run("inspect", path, "--json");
        Assert.That(rc, Is.EqualTo(0));
        using var doc = JsonDocument.Parse(stdout);
        Assert.That(doc.RootElement.GetProperty("tensors").GetInt32(), Is.EqualTo(2));
        Assert.That(doc.RootElement.GetProperty("bytes").GetInt64(), Is.EqualTo(32));
        Assert.That(doc.RootElement.GetProperty("valid").GetBoolean(), Is.True);
    }

    [Test]
    public void VerifyCountsNonFiniteValues()
    {
        using var dir = new TempDir();
        string path = dir.File("nan.safetensors");
        using (var scope = NewDisposeScope())
            SafetensorsWriter.Write(path, [("x", tensor(new[] { 1f, float.NaN, float.PositiveInfinity }))]);
        var (rc, stdout, _) = CliRunner.Run("inspect", path, "--verify");
        Assert.That(rc, Is.EqualTo(0));
        Assert.That(stdout, Does.Contain("2 non-finite values"));
    }

    static IEnumerable<TestCaseData> Corruptions()
    {
        yield return new TestCaseData((Action<string>)(p => File.WriteAllBytes(p, [1, 2, 3])), "truncated").SetName("Truncated");
        yield return new TestCaseData((Action<string>)(p => File.WriteAllText(p,
            "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n")), "git lfs pull").SetName("LfsPointer");
        yield return new TestCaseData((Action<string>)(p => RawSafetensors.Write(p, "not json")), "JSON").SetName("HeaderNotJson");
        yield return new TestCaseData((Action<string>)(p => RawSafetensors.Write(p,
            "{\"x\":{\"dtype\":\"Q8\",\"shape\":[1],\"data_offsets\":[0,1]}}", new byte[1])), "Q8").SetName("UnknownDtype");
        yield return new TestCaseData((Action<string>)(p => RawSafetensors.Write(p,
            "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[4])), "'x'").SetName("DataShorterThanHeader");
    }

    [TestCaseSource(nameof(Corruptions))]
    public void CorruptedCheckpointExitsNonZeroAndNamesTheProblem(Action<string> corrupt, string expectedFragment)
    {
        using var dir = new TempDir();
        string path = dir.File("bad.safetensors");
        corrupt(path);
        var (rc, stdout, stderr) = CliRunner.Run("inspect", path, "--verify");
        Assert.That(rc, Is.EqualTo(1), stdout);
        Assert.That(stderr, Does.StartWith("invalid: ").And.Contain("bad.safetensors").And.Contain(expectedFragment).IgnoreCase);
        Assert.That(stderr, Does.Not.Contain("   at "), "no stack trace");
    }

    [Test]
    public void UnknownOptionIsAUsageError()
    {
        var (rc, _, stderr) = CliRunner.Run("inspect", "x", "--bogus");
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("--bogus"));
    }
}
