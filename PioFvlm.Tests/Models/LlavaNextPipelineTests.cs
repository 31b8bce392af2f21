using PioFvlm.Core.Generation;
using PioFvlm.Core.Models;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Vision;
using PioFvlm.Models;
using PioFvlm.Models.Configs;
using PioFvlm.Models.LlavaNext;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Models;

/// <summary>The tiny LLaVA-NeXT (both text models) through VlmLoader and generate, with every registered method, the
/// keep-all identity, the reference-compatible base-view scope, and the newline rule of the sequence cut.</summary>
public class LlavaNextPipelineTests
{
    static string Tokenizer => Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "tokenizers", "llama2");

    static RgbImage Image(int width, int height)
    {
        var random = new Random(7);
        var pixels = new byte[width * height * 3];
        random.NextBytes(pixels);
        return new RgbImage(width, height, pixels);
    }

    static IVisionLanguageModel Load(TempDir dir, TinyNextText text)
    {
        TinyLlavaNext.Write(dir.Path, text, seed: 3, dtype: TorchSharp.torch.ScalarType.Float32, tokenizerDirectory: Tokenizer);
        return VlmLoader.FromPretrained(dir.Path);
    }

    static PruningPlan Plan(string method, ModelProfile profile)
    {
        var info = PruningRegistry.Get(method);
        string json = method == "KeepAll" ? """{ "Method": "KeepAll" }"""
            : info.Kind == PruningMethodKind.PreLlm ? $$"""{ "Stages": { "ve": { "Method": "{{method}}", "Ratio": 0.3 } } }"""
            : $$"""{ "Method": "{{method}}", "Stages": { "s1": { "AfterLayer": 1, "Ratio": 0.3 } } }""";
        return PruningConfig.Parse(json, $"test plan {method}", profile);
    }

    [Test]
    public void EveryRegisteredMethodGeneratesOnTheTinyNext([Values] TinyNextText text)
    {
        using var dir = new TempDir();
        using var model = Load(dir, text);
        Assert.That(model, Is.InstanceOf<LlavaNextPipeline>());
        var next = (LlavaNextPipeline)model;
        var image = Image(50, 37);
        var layout = next.Processor.Layout(image.Width, image.Height);
        Assert.That(model.FormatPrompt("what?"), text == TinyNextText.Mistral ? Does.StartWith("[INST] <image>\n") : Does.Contain("USER: <image>\n"));
        // VScan's stage reads CLIP layer 5 (its published setting), which the 3-layer tiny tower does not have.
        foreach (var method in PruningRegistry.Methods.Select(m => m.Name).Where(m => m != "VScan"))
        {
            var result = model.Generate(image, "What is in the image?", new GenerationOptions { MaxNewTokens = 3 }, Plan(method, model.Profile));
            TestContext.Out.WriteLine($"{text} {method}: {result.Stats.VisualTokensBeforeReduction} -> {result.Stats.VisualTokensIn} -> {result.Stats.VisualTokensOut} visual tokens, {result.TokenIds.Count} new tokens");
            Assert.That(result.TokenIds, Has.Count.EqualTo(3).Or.Count.GreaterThan(0), method);
            Assert.That(result.Stats.VisualTokensBeforeReduction, Is.EqualTo(layout.VisualTokens), $"{method}: visual tokens from the tower exclude the newlines");
            Assert.That(result.Stats.VisualTokensOut, Is.LessThanOrEqualTo(result.Stats.VisualTokensIn), method);
            if (method != "KeepAll")
                Assert.That(result.Stats.VisualTokensOut, Is.LessThan(layout.VisualTokens), $"{method} pruned nothing");
            Assert.That(result.Stats.KvCacheBytes, Is.GreaterThan(0), method);
        }
    }

    [Test]
    public void KeepAllAndAFullBudgetAreBitIdenticalToNoPruning()
    {
        using var dir = new TempDir();
        using var model = Load(dir, TinyNextText.Mistral);
        var image = Image(61, 29);
        var options = new GenerationOptions { MaxNewTokens = 6 };
        var reference = model.Generate(image, "Describe it.", options, PruningPlan.None);
        foreach (var plan in new[]
                 {
                     PruningConfig.Parse("""{ "Method": "KeepAll" }""", "keep-all", model.Profile),
                     PruningConfig.Parse("""{ "Method": "PioFvlm", "Stages": { "s1": { "AfterLayer": 1, "Ratio": 1.0 } } }""", "pio 100 %", model.Profile),
                 })
        {
            var result = model.Generate(image, "Describe it.", options, plan);
            Assert.That(result.TokenIds, Is.EqualTo(reference.TokenIds), plan.Name);
            Assert.That(result.Stats.VisualTokensOut, Is.EqualTo(reference.Stats.VisualTokensOut), plan.Name);
            Assert.That(result.Stats.KvCacheBytes, Is.EqualTo(reference.Stats.KvCacheBytes), plan.Name);
        }
    }

    [Test]
    public void TheReferenceCompatibleScopePrunesTheBaseViewOnly()
    {
        using var dir = new TempDir();
        using var model = Load(dir, TinyNextText.Vicuna);
        var next = (LlavaNextPipeline)model;
        next.PruningScope = AnyresPruningScope.BaseViewOnly;
        var image = Image(60, 40);
        var plan = PruningConfig.Parse("""{ "Method": "Random", "Stages": { "s1": { "AfterLayer": 1, "Ratio": 0.5 } } }""", "random 50 %", model.Profile);
        var result = model.Generate(image, "Describe it.", new GenerationOptions { MaxNewTokens = 2 }, plan);
        Assert.That(result.Stats.VisualTokensIn, Is.EqualTo(49), "only the 7x7 base view is visual");
        Assert.That(result.Stats.VisualTokensOut, Is.EqualTo(24), "half of the base view (int(0.5 * 49))");
    }

    [Test]
    public void APlansScopeOverridesThePipelinesAndOtherFamiliesRefuseIt()
    {
        using var dir = new TempDir();
        using var model = Load(dir, TinyNextText.Vicuna);
        var image = Image(60, 40);
        var options = new GenerationOptions { MaxNewTokens = 2 };
        const string config = """{ "Method": "Random", "Scope": "BaseViewOnly", "Stages": { "s1": { "AfterLayer": 1, "Ratio": 0.5 } } }""";
        var baseView = model.Generate(image, "Describe it.", options, PruningConfig.Parse(config, "base view", model.Profile));
        Assert.That((baseView.Stats.VisualTokensIn, baseView.Stats.VisualTokensOut), Is.EqualTo((49L, 24L)), "only the 7x7 base view is visual");
        var whole = model.Generate(image, "Describe it.", options, PruningConfig.Parse(config.Replace("BaseViewOnly", "WholeImage"), "whole", model.Profile));
        long visual = ((LlavaNextPipeline)model).Processor.Layout(60, 40).VisualTokens;
        Assert.That(whole.Stats.VisualTokensIn, Is.EqualTo(visual));
        ((LlavaNextPipeline)model).PruningScope = AnyresPruningScope.BaseViewOnly;
        var wholeOverProperty = model.Generate(image, "Describe it.", options, PruningConfig.Parse(config.Replace("BaseViewOnly", "WholeImage"), "whole", model.Profile));
        Assert.That(wholeOverProperty.Stats.VisualTokensIn, Is.EqualTo(visual), "the plan's scope wins over the pipeline's");
        var unscoped = model.Generate(image, "Describe it.", options, PruningConfig.Parse(config.Replace("\"Scope\": \"BaseViewOnly\", ", ""), "none", model.Profile));
        Assert.That(unscoped.Stats.VisualTokensIn, Is.EqualTo(49), "no scope in the plan: the pipeline's");

        // A plan read without a model reaches a LLaVA-1.5 pipeline: refused there, before any pruning.
        using var llavaDir = new TempDir();
        using var llava = LlavaTestModels.InMemory(llavaDir);
        var e = Assert.Throws<NotSupportedException>(() => llava.Generate(image, "Describe it.", options, PruningConfig.Parse(config, "base view")));
        Assert.That(e!.Message, Does.Contain("Scope 'BaseViewOnly'").And.Contain("llava-1.5 images have no base view"));
    }

    [Test]
    public void GenerateTakesTheScopeFromAPruningFile()
    {
        using var dir = new TempDir();
        string model = Path.Combine(dir.Path, "next"), llava = Path.Combine(dir.Path, "llava");
        Assert.That(CommandLine.CliRunner.Run("make-tiny", "--family", "llava-next", "--out", model, "--tokenizer", Tokenizer).ExitCode, Is.EqualTo(0));
        Assert.That(CommandLine.CliRunner.Run("make-tiny", "--out", llava, "--tokenizer", Tokenizer).ExitCode, Is.EqualTo(0));
        string png = LlavaTestModels.WritePng(dir.File("img.png"), 60, 40);
        string config = dir.File("scope.json");
        File.WriteAllText(config, """{ "Method": "PioFvlm", "Scope": "BaseViewOnly", "Stages": { "s1": { "AfterLayer": 1, "Keep": 10 } } }""");

        var (rc, stdout, stderr) = CommandLine.CliRunner.Run("generate", "--model", model, "--image", png, "--prompt", "Hi", "--max-new-tokens", "2", "--pruning", config);
        Assert.That(rc, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("pruning scope   BaseViewOnly"));
        Assert.That(stdout, Does.Contain("after layer 1   49 -> 10 visual tokens"));

        (rc, _, stderr) = CommandLine.CliRunner.Run("generate", "--model", llava, "--image", png, "--prompt", "Hi", "--pruning", config);
        Assert.That(rc, Is.EqualTo(1));
        Assert.That(stderr, Does.Contain($"{config}: Scope 'BaseViewOnly' restricts pruning to the base view").And.Contain("llava-1.5 images have no base view"));
    }

    [Test]
    public void ANewlineGoesWithItsRowAndStaysWhileTheRowKeepsAToken()
    {
        // 56x42 on the tiny pinpoints: canvas 56x56 (2x2 tiles of 7x7), unpadded map 10x14 (2 rows off top and bottom).
        ImageResolution[] pinpoints = [new(28, 56), new(56, 28), new(56, 56)];
        var layout = AnyresLayout.For(56, 42, pinpoints, 28, 4);
        Assert.That((layout.UnpaddedHeight, layout.UnpaddedWidth, layout.UnpadTop, layout.UnpadLeft), Is.EqualTo((10, 14, 2, 0)));
        var spans = AnyresFeaturePacker.Spans(layout, 0);
        // Base, then per map row two spans (left tile, right tile); row 0 is cell row 2 of tiles 1 and 2.
        Assert.That(spans, Has.Count.EqualTo(1 + 2 * 10));
        Assert.That(spans[1].Origin, Is.EqualTo(new AnyresOrigin(1, 2, 0, 0, false)));
        Assert.That(spans[2].Origin, Is.EqualTo(new AnyresOrigin(2, 2, 0, 0, true)));
        Assert.That(spans[^1].Origin, Is.EqualTo(new AnyresOrigin(4, 4, 0, 9, true)), "last row: cell row (2 + 9) - 7 = 4 of the bottom tiles");
        long length = layout.Tokens;
        var pool = spans.SelectMany(s => Enumerable.Range(0, (int)s.Length).Select(k => s.Start + k)).ToArray();
        Assert.That(pool, Has.Length.EqualTo(layout.VisualTokens));
        // Keep everything but map row 0, and only the last token of row 1.
        long row0 = 49, row1 = 49 + 15;
        var kept = Enumerable.Range(0, pool.Length).Where(i => pool[i] < row0 || pool[i] >= row1 + 15 || pool[i] == row1 + 13).Select(i => (long)i).ToArray();
        var keep = SequenceCut.KeepMask(length, spans, pool, kept);
        Assert.That(keep[row0 + 14], Is.False, "row 0 is fully pruned: its newline goes");
        Assert.That(keep[row1 + 14], Is.True, "row 1 keeps one token: its newline stays");
        var shrunk = SequenceCut.ShrinkSpans(spans, keep);
        Assert.That(shrunk.Sum(s => s.Length), Is.EqualTo(kept.Length));
        Assert.That(keep.Count(k => k), Is.EqualTo(kept.Length + 9), "nine newlines remain");
        Assert.That(shrunk[1].Start, Is.EqualTo(49), "row 1's kept token follows the base view directly");
        Assert.That(shrunk[1].Origin!.Value.Crop, Is.EqualTo(2));
    }
}
