using System.Text.Json;
using PioFvlm.Core.Pruning;
using PioFvlm.Models.Llava;
using PioFvlm.Models.LlavaNext;

namespace PioFvlm.Tests.CommandLine;

public class MethodsCommandTests
{
    [Test]
    public void JsonListsEveryRegisteredMethodAndPreset()
    {
        var (rc, stdout, _) = CliRunner.Run("methods", "--json");
        Assert.That(rc, Is.EqualTo(0));
        using var doc = JsonDocument.Parse(stdout);
        var names = doc.RootElement.GetProperty("methods").EnumerateArray().Select(m => m.GetProperty("name").GetString()).ToList();
        Assert.That(names, Is.SupersetOf(new[] { "PioFvlm", "KeepAll", "Random", "VScan" }));
        var pio11 = doc.RootElement.GetProperty("schedules").GetProperty("llava-1.5").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "pio-11");
        Assert.That(pio11.GetProperty("stages").EnumerateArray().Select(s => s.GetProperty("keep").GetInt32()), Is.EqualTo(new[] { 92, 54, 22 }));
    }

    [Test]
    public void ShippedPruningConfigsParse()
    {
        string dir = RepoConfigs("pruning");
        var files = Directory.GetFiles(dir, "*.json");
        Assert.That(files, Is.Not.Empty);
        // next-*.json are LLaVA-NeXT configs (they may restrict pruning to the base view, which LLaVA-1.5 refuses).
        foreach (var file in files)
            Assert.DoesNotThrow(() => PruningConfig.Load(file, Path.GetFileName(file).StartsWith("next-", StringComparison.Ordinal)
                ? LlavaNextProfile.Vicuna7B : Llava15Profile.Reference7B), file);
        var vePlan = PruningConfig.Load(Path.Combine(dir, "vscan-then-pio-11.json"), Llava15Profile.Reference7B);
        Assert.That(vePlan.PreLlm, Is.Not.Null);
        Assert.That(((ScoreThenSelectPruner)vePlan.Intra!).Schedule.Stages.Single().AfterLayer, Is.EqualTo(16));
    }

    static string RepoConfigs(string sub)
    {
        for (var d = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); d != null; d = d.Parent)
            if (Directory.Exists(Path.Combine(d.FullName, "configs", sub))) return Path.Combine(d.FullName, "configs", sub);
        Assert.Fail($"configs/{sub} not found above the test folder");
        return "";
    }
}
