using System.Collections;
using NUnit.Framework;
using PioFvlm.Bench.Eval.Runner;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Eval;

/// <summary>Layering order and key-path errors of <see cref="RunConfigLoader"/> (no weights are touched).</summary>
public class RunnerConfigTests
{
    static readonly IDictionary NoEnvironment = new Hashtable();

    /// <summary>A configs/base.json + configs/runs/run.json pair under a temp root; returns the run file.</summary>
    static string Write(TempDir dir, string baseJson, string runJson)
    {
        Directory.CreateDirectory(dir.File("configs/runs"));
        File.WriteAllText(dir.File("configs/base.json"), baseJson);
        File.WriteAllText(dir.File("configs/runs/run.json"), runJson);
        return dir.File("configs/runs/run.json");
    }

    const string Base = """{ "Run": { "Model": { "DType": "Float32" }, "Eval": { "MaxNewTokens": 16 }, "Output": { "Directory": "out/x" } } }""";
    const string RunFile = """{ "Run": { "Model": { "Path": "models/m" }, "Eval": { "Dataset": "data/q.jsonl", "MaxNewTokens": 4 } } }""";

    [Test]
    public void LaterLayersWin_BaseThenRunFileThenEnvironmentThenCommandLine()
    {
        using var dir = new TempDir();
        string run = Write(dir, Base, RunFile);
        Assert.That(RunConfigLoader.Load(run, [], NoEnvironment).Eval.MaxNewTokens, Is.EqualTo(4), "run file over base");
        var env = new Hashtable { ["PIOFVLM_Run__Eval__MaxNewTokens"] = "7", ["OTHER_Run__Eval__Limit"] = "2" };
        var fromEnv = RunConfigLoader.Load(run, [], env);
        Assert.That(fromEnv.Eval.MaxNewTokens, Is.EqualTo(7), "environment over run file");
        Assert.That(fromEnv.Eval.Limit, Is.Null, "variables without the PIOFVLM_ prefix are ignored");
        var cli = RunConfigLoader.Load(run, ["--Run:Eval:MaxNewTokens=9", "--limit", "3", "--shard=1/2"], env);
        Assert.That(cli.Eval.MaxNewTokens, Is.EqualTo(9), "command line over environment");
        Assert.That(cli.Eval.Limit, Is.EqualTo(3));
        Assert.That(cli.Shard, Is.EqualTo((1, 2)));
        Assert.That(cli.Model.DType, Is.EqualTo(TorchSharp.torch.ScalarType.Float32), "base value kept where nobody overrides it");
    }

    [Test]
    public void RelativePaths_ResolveAgainstTheFolderAboveBaseJson()
    {
        using var dir = new TempDir();
        var run = RunConfigLoader.Load(Write(dir, Base, RunFile), [], NoEnvironment);
        Assert.That(run.Model.Path, Is.EqualTo(Path.GetFullPath(dir.File("models/m"))));
        Assert.That(run.Eval.Dataset, Is.EqualTo(Path.GetFullPath(dir.File("data/q.jsonl"))));
        Assert.That(run.Output.Directory, Is.EqualTo(Path.GetFullPath(dir.File("out/x"))));
    }

    [TestCase("--Run:Eval:MaxNewTokns=3", "Run:Eval:MaxNewTokns")]
    [TestCase("--Run:Modle:Path=x", "Run:Modle")]
    [TestCase("--Sweep:Eval:Limit=3", "Sweep")]
    public void UnknownKey_FailsWithItsPath(string arg, string path)
    {
        using var dir = new TempDir();
        var e = Assert.Throws<RunConfigException>(() => RunConfigLoader.Load(Write(dir, Base, RunFile), [arg], NoEnvironment));
        Assert.That(e!.Message, Does.StartWith(path + ":"));
        Assert.That(e.Message, Does.Contain("unknown key"));
    }

    [Test]
    public void TypoInTheRunFile_FailsWithItsPath()
    {
        using var dir = new TempDir();
        string run = Write(dir, Base, """{ "Run": { "Model": { "Path": "m", "Dtype": "Float16", "Devise": "cpu" }, "Eval": { "Dataset": "q" } } }""");
        var e = Assert.Throws<RunConfigException>(() => RunConfigLoader.Load(run, [], NoEnvironment));
        Assert.That(e!.Message, Does.StartWith("Run:Model:Devise:"), "DType matches case-insensitively; Devise is the typo");
    }

    [TestCase("--Run:Model:DType=Float64", "Run:Model:DType", "Float64")]
    [TestCase("--Run:Model:DType=3", "Run:Model:DType", "'3'")]
    [TestCase("--Run:Eval:MaxNewTokens=many", "Run:Eval:MaxNewTokens", "many")]
    [TestCase("--Run:Eval:MaxNewTokens=0", "Run:Eval:MaxNewTokens", "at least 1")]
    [TestCase("--Run:Eval:Shard=2/2", "Run:Eval:Shard", "2/2")]
    [TestCase("--Run:Eval:Limit=0", "Run:Eval:Limit", "at least 1")]
    public void InvalidValue_FailsWithItsPath(string arg, string path, string mention)
    {
        using var dir = new TempDir();
        var e = Assert.Throws<RunConfigException>(() => RunConfigLoader.Load(Write(dir, Base, RunFile), [arg], NoEnvironment));
        Assert.That(e!.Message, Does.StartWith(path + ":"));
        Assert.That(e.Message, Does.Contain(mention));
    }

    [Test]
    public void MissingRequiredKey_FailsWithItsPath()
    {
        using var dir = new TempDir();
        string run = Write(dir, Base, """{ "Run": { "Model": { "Path": "m" } } }""");
        var e = Assert.Throws<RunConfigException>(() => RunConfigLoader.Load(run, [], NoEnvironment));
        Assert.That(e!.Message, Does.StartWith("Run:Eval:Dataset:"));
    }

    [Test]
    public void Methods_KeepAllFirst_ObjectsFilesAndDrops()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("fastv.json"), """{ "Method": "FastV", "Stages": { "s1": { "AfterLayer": 2, "Keep": 64 } } }""");
        string run = Write(dir, Base, """
            { "Run": { "Model": { "Path": "m" }, "Eval": { "Dataset": "q" },
              "Methods": { "Pio": { "Method": "PioFvlm", "Stages": { "s1": { "AfterLayer": 1, "Keep": 12 } } },
                           "Fast": "fastv.json", "Rand": { "Method": "Random", "Stages": { "s1": { "AfterLayer": 1, "Keep": 12 } } } } } }
            """);
        var methods = RunConfigLoader.Load(run, ["--Run:Methods:Rand="], NoEnvironment).Methods;
        Assert.That(methods.Select(m => m.Name), Is.EqualTo(new[] { "KeepAll", "Fast", "Pio" }), "KeepAll first; an empty value drops Rand");
        Assert.That(methods[0].Plan.Intra, Is.Null);
        Assert.That(methods[2].Plan.Intra, Is.Not.Null);
        Assert.That(methods[2].CanonicalJson, Does.Contain("\"Keep\":12"), "numbers typed again, not strings");
    }

    [Test]
    public void BadPruningConfig_FailsWithTheMethodPath()
    {
        using var dir = new TempDir();
        string run = Write(dir, Base, """{ "Run": { "Model": { "Path": "m" }, "Eval": { "Dataset": "q" }, "Methods": { "Pio": { "Method": "PioFvlm", "Stagez": {} } } } }""");
        var e = Assert.Throws<RunConfigException>(() => RunConfigLoader.Load(run, [], NoEnvironment));
        Assert.That(e!.Message, Does.StartWith("Run:Methods:Pio:"));
        Assert.That(e.Message, Does.Contain("Stagez"));
    }
}
