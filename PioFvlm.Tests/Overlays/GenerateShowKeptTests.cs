using System.Text.Json;
using PioFvlm.Core.Vision;
using PioFvlm.Tests.CommandLine;
using PioFvlm.Tests.Models;
using PioFvlm.Tests.TestSupport;
using PioFvlm.Tests.Vision;

namespace PioFvlm.Tests.Overlays;

/// <summary><c>generate --show-kept</c> on the bundled tiny LLaVA (28 px, patch 4: 7 × 7 = 49 visual tokens).</summary>
[NonParallelizable]
public class GenerateShowKeptTests
{
    /// <summary>28 × 28, every channel in 100..255 (so a kept pixel never equals its dimmed value).</summary>
    static (string Path, RgbImage Image) WriteImage(TempDir dir)
    {
        static byte Pixel(int x, int y, int c) => (byte)(100 + (x * 7 + y * 13 + c * 50) % 156);
        string path = dir.File("image.png");
        File.WriteAllBytes(path, VisionTestData.Png(28, 28, 2, VisionTestData.Unfiltered(28, 28, 3, Pixel)));
        return (path, VisionTestData.Image(28, 28, Pixel));
    }

    [Test]
    public void EachStagePanelHighlightsExactlyThatStagesKeptTokens()
    {
        using var dir = new TempDir();
        var (png, image) = WriteImage(dir);
        string config = dir.File("prune.json");
        File.WriteAllText(config, """{ "Method": "PioFvlm", "Stages": { "ve": { "Method": "DivPrune", "Keep": 30 }, "llm": { "AfterLayer": 1, "Keep": 12 } } }""");
        string picture = dir.File("kept.png");
        var (rc, stdout, stderr) = CliRunner.Run("generate", "--model", LlavaTestModels.BundledTinyModel(), "--image", png, "--prompt", "What is this?",
                                                 "--max-new-tokens", "2", "--pruning", config, "--show-kept", picture, "--json");
        Assert.That(rc, Is.EqualTo(0), stderr);
        using var json = JsonDocument.Parse(stdout);
        Assert.That(json.RootElement.GetProperty("show_kept").GetString(), Is.EqualTo(picture));
        long preLlm = json.RootElement.GetProperty("pre_llm").GetProperty("visual_after").GetInt64();
        long stage = json.RootElement.GetProperty("stages")[0].GetProperty("visual_after").GetInt64();
        Assert.That((preLlm, stage), Is.EqualTo((30L, 12L)));

        var decoded = ImageDecoder.Decode(picture);
        // 28 px at 13x (384 / 28) = 364 px panels, two of them; heading 24 + margin 8 + captions 40 + 364 + margin 8.
        Assert.That((decoded.Width, decoded.Height), Is.EqualTo((8 + 2 * (364 + 8), 24 + 8 + 40 + 364 + 8)));
        var first = OverlayCells.Highlighted(decoded, image, 0, 13, 4);
        var second = OverlayCells.Highlighted(decoded, image, 1, 13, 4);
        Assert.That(first, Has.Count.EqualTo(30), "pre-LLM panel: the 30 tokens DivPrune kept");
        Assert.That(second, Has.Count.EqualTo(12), "after layer 1: the 12 tokens PIO kept");
        Assert.That(second.IsSubsetOf(first), "a later stage keeps a subset of the earlier one's tokens, in original indices");
    }

    [Test]
    public void AnUnprunedRunIsOnePanelWithEveryToken()
    {
        using var dir = new TempDir();
        var (png, image) = WriteImage(dir);
        string picture = dir.File("kept.png");
        var (rc, stdout, stderr) = CliRunner.Run("generate", "--model", LlavaTestModels.BundledTinyModel(), "--image", png, "--prompt", "Hi",
                                                 "--max-new-tokens", "1", "--show-kept", picture);
        Assert.That(rc, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain($"kept tokens     drawn in {picture}"));
        var decoded = ImageDecoder.Decode(picture);
        Assert.That((decoded.Width, decoded.Height), Is.EqualTo((8 + 364 + 8, 24 + 8 + 40 + 364 + 8)));
        Assert.That(OverlayCells.Highlighted(decoded, image, 0, 13, 4), Has.Count.EqualTo(49));
    }

    [Test]
    public void AMissingFolderOrAFolderNameIsExitOneNamingThePath()
    {
        using var dir = new TempDir();
        var (png, _) = WriteImage(dir);
        string missing = dir.File("no-such-folder/kept.png");
        var (rc, _, stderr) = CliRunner.Run("generate", "--model", LlavaTestModels.BundledTinyModel(), "--image", png, "--prompt", "Hi", "--show-kept", missing);
        Assert.That(rc, Is.EqualTo(1));
        Assert.That(stderr, Does.Contain(missing).And.Contain("does not exist"));
        (rc, _, stderr) = CliRunner.Run("generate", "--model", LlavaTestModels.BundledTinyModel(), "--image", png, "--prompt", "Hi", "--show-kept", dir.Path);
        Assert.That(rc, Is.EqualTo(1));
        Assert.That(stderr, Does.Contain(dir.Path).And.Contain("is a folder"));
    }

    [Test]
    public void LlavaNextAndQwenAreRefusedNamingTheFamily()
    {
        using var dir = new TempDir();
        var (png, _) = WriteImage(dir);
        string next = dir.File("next"), qwen = dir.File("qwen");
        Assert.That(CliRunner.Run("make-tiny", "--family", "llava-next", "--out", next, "--tokenizer", LlavaTestModels.Llama2TokenizerDir).ExitCode, Is.EqualTo(0));
        Assert.That(CliRunner.Run("make-tiny", "--family", "qwen2.5-vl", "--out", qwen, "--dtype", "F32").ExitCode, Is.EqualTo(0));
        foreach (var (model, family) in new[] { (next, "llava-next"), (qwen, "qwen2.5-vl") })
        {
            string picture = dir.File(family + ".png");
            var (rc, stdout, stderr) = CliRunner.Run("generate", "--model", model, "--image", png, "--prompt", "Hi", "--show-kept", picture);
            Assert.That(rc, Is.EqualTo(1), stdout);
            Assert.That(stderr, Does.Contain("LLaVA-1.5 models only").And.Contain($"this model is {family}"));
            Assert.That(File.Exists(picture), Is.False);
        }
    }
}
