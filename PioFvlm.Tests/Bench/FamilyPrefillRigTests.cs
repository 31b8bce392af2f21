using PioFvlm.Bench.Macro;
using PioFvlm.Bench.Commands;
using PioFvlm.Models;
using PioFvlm.Models.Configs;
using PioFvlm.Tests.CommandLine;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Bench;

/// <summary>
/// The measurement rig on LLaVA-NeXT and Qwen2.5-VL: the shipped 7B configs, the random prompts' visual counts for a
/// given image size (worked out by hand from the processors' rules), and the smoke run of <c>measure-prefill</c> end to
/// end with pruned rows keeping 11.1 % on average.
/// </summary>
public sealed class FamilyPrefillRigTests
{
    static string RepoFile(string relative) => RepoFiles.FindUpwards(relative)
        ?? throw new AssertionException($"{relative} not found above {Environment.CurrentDirectory}");

    static readonly string NextConfig = Path.Combine("configs", "models", "llava-next-7b", "config.json");
    static readonly string QwenConfig = Path.Combine("configs", "models", "qwen25vl-7b", "config.json");

    [Test]
    public void ShippedConfigs_ParseToThe7BShapes()
    {
        var next = (LlavaNextConfig)HfConfigLoader.Load(RepoFile(NextConfig));
        Assert.That((next.Text.ModelType, next.Text.HiddenSize, next.Text.NumHiddenLayers, next.Text.NumKeyValueHeads, next.Text.IntermediateSize),
            Is.EqualTo(("llama", 4096, 32, 32, 11008)));
        Assert.That(next.ImageGridPinpoints, Has.Count.EqualTo(5));
        // llava.md §1: llava-1.5-7b-hf has 7,063,427,072 parameters; the vicuna NeXT adds image_newline (4,096).
        Assert.That(ModelSizeEstimator.Estimate(next).Total, Is.EqualTo(7_063_427_072L + 4096));

        var qwen = (Qwen25VlConfig)HfConfigLoader.Load(RepoFile(QwenConfig));
        Assert.That((qwen.Text.HiddenSize, qwen.Text.NumHiddenLayers, qwen.Text.NumKeyValueHeads, qwen.Text.IntermediateSize, qwen.Vision.Depth, qwen.Vision.HiddenSize),
            Is.EqualTo((3584, 28, 4, 18944, 32, 1280)));
    }

    [Test]
    public void NextPrompt_640x480_HasFiveCropsAndItsImageSize()
    {
        var config = HfConfigLoader.Load(RepoFile(NextConfig));
        using var built = VlmFamilies.BuildRandom(config, new RandomModelOptions { TinyWidths = true, ImageSize = (640, 480) });
        using var inputs = built.Prompt(60, 3);
        // 640x480 fits the 672x672 pinpoint best (all 307,200 pixels kept): base view + 2 x 2 tiles.
        Assert.That(inputs.PixelValues!.shape, Is.EqualTo(new long[] { 1, 5, 3, 336, 336 }));
        Assert.That(inputs.ImageSizes!.data<long>().ToArray(), Is.EqualTo(new long[] { 480, 640 }));
        Assert.That(inputs.TokenIds.Count(id => id == 32000), Is.EqualTo(1), "one placeholder, as LlavaNextPipeline.Prepare leaves it");
        using var seq = built.Model.BuildSequence(inputs).Sequence;
        // 48 x 48 map unpadded to round(480 · 48 / 640) = 36 rows: 576 + 36 · 48 = 2304 visual, + 36 newlines + 60 text
        // (BOS included; the placeholder is replaced).
        Assert.That((seq.VisualTokenCount, seq.Length), Is.EqualTo((2304L, 2304L + 36 + 60)));
    }

    [Test]
    public void QwenPrompt_644x476_IsExpandedToItsSmartResizeGrid()
    {
        var config = (Qwen25VlConfig)HfConfigLoader.Load(RepoFile(QwenConfig));
        using var built = VlmFamilies.BuildRandom(config, new RandomModelOptions { TinyWidths = true, ImageSize = (644, 476) });
        using var inputs = built.Prompt(60, 3);
        // 644 = 23 · 28 and 476 = 17 · 28 are kept: a 46 x 34 patch grid, 23 · 17 = 391 tokens after the 2 x 2 merge.
        Assert.That(inputs.ImageGridThw!.data<long>().ToArray(), Is.EqualTo(new long[] { 1, 34, 46 }));
        Assert.That(inputs.PixelValues!.shape, Is.EqualTo(new long[] { 34 * 46, 3 * 2 * 14 * 14 }));
        Assert.That(inputs.TokenIds.Count(id => id == config.ImageTokenId), Is.EqualTo(391));
        Assert.That(inputs.TokenIds.Count, Is.EqualTo(60 + 2 + 391));
        Assert.That(inputs.TokenIds[4], Is.EqualTo(config.VisionStartTokenId));
        Assert.That(inputs.TokenIds[4 + 1 + 391], Is.EqualTo(config.VisionEndTokenId));
    }

    static PerfMeasurement Smoke(string config, string image, string[] schedules)
    {
        using var dir = new TempDir();
        string json = Path.Combine(dir.Path, "smoke.json");
        int threads = get_num_threads();
        try
        {
            var (rc, stdout, stderr) = CliRunner.Run("measure-prefill", "--smoke", "--config", RepoFile(config), "--image", image, "--threads", "1",
                "--repeats", "1", "--decode-tokens", "1", "--json", json, "--schedules", string.Join(",", schedules));
            Assert.That(rc, Is.EqualTo(0), stdout + stderr);
        }
        finally
        {
            set_num_threads(threads);
        }
        return PerformanceReport.Load(json);
    }

    [Test, NonParallelizable]
    public void NextSmoke_672Square_Has2880VisualTokensIn2928Positions_AndPrunedRowsKeepOneNinth()
    {
        string fastv = RepoFile(Path.Combine("configs", "pruning", "ratio", "fastv-11.json"));
        var run = Smoke(NextConfig, "672x672", ["unpruned", "pio-11", fastv]);
        // 672x672 on the 672x672 pinpoint: base 24² = 576 + a 48 x 48 map (no unpadding) = 2880 visual tokens, and 48
        // newline rows: 2928 image positions, + 60 text.
        Assert.That(run.VisualTokens, Is.EqualTo(2880));
        Assert.That(run.SequenceLength, Is.EqualTo(2928 + 60));
        Assert.That(run.Image, Is.EqualTo("672x672"));
        Assert.That(run.Rows.Select(r => r.Name), Is.EqualTo(new[] { "unpruned", "pio-11", "fastv-11" }));
        Assert.That(run.Rows[0].AverageVisual, Is.EqualTo(2880));
        foreach (var r in run.Rows.Skip(1))
            Assert.That(r.AverageVisual, Is.EqualTo(2880 / 9.0).Within(2880 * 0.002), r.Name);   // 320 ± 0.2 %
        Assert.That(run.Rows.All(r => r.Finite && r.SequencePerLayer.Count == 32 && r.VisionMs > 0), Is.True);
    }

    [Test, NonParallelizable]
    public void QwenSmoke_1008Square_Has1296VisualTokens_AndPrunedRowsKeepOneNinth()
    {
        string dart = RepoFile(Path.Combine("configs", "pruning", "ratio", "dart-11.json"));
        var run = Smoke(QwenConfig, "1008x1008", ["unpruned", "pio-11", dart]);
        // 1008 = 36 · 28: 36 x 36 = 1296 tokens; + 60 text + vision_start and vision_end.
        Assert.That(run.VisualTokens, Is.EqualTo(1296));
        Assert.That(run.SequenceLength, Is.EqualTo(1296 + 62));
        Assert.That(run.Rows[0].AverageVisual, Is.EqualTo(1296));
        Assert.That(run.Rows[1].AverageVisual, Is.EqualTo(1296 / 9.0).Within(1296 * 0.002), "pio-11 averages 11.1 % over the 28 layers");
        // DART keeps 0.1111 of the 1296 after layer 2: ⌊143.99⌋ = 143, split among its 4 reference pivots (35 each) = 140.
        var dartRow = run.Rows[2];
        Assert.That(dartRow.VisualOut, Is.EqualTo(140));
        Assert.That(run.Rows.All(r => r.Finite && r.SequencePerLayer.Count == 28), Is.True);
    }
}
