using PioFvlm.Core.Text;
using PioFvlm.Core.Vision;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.TestSupport;
using PioFvlm.Tests.Vision;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>Tiny LLaVA models, folders, tokenizer and images shared by the LLaVA end-to-end tests.</summary>
internal static class LlavaTestModels
{
    public static string Llama2TokenizerDir =>
        Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "tokenizers", "llama2");

    public const int ImageTokens = 49;

    /// <summary>configs/models/tiny-llava above the test folder (the repository's bundled model).</summary>
    public static string BundledTinyModel()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir != null; dir = dir.Parent)
        {
            string path = Path.Combine(dir.FullName, "configs", "models", "tiny-llava");
            if (File.Exists(Path.Combine(path, "config.json"))) return path;
        }
        Assert.Fail("configs/models/tiny-llava not found above the test folder");
        return "";
    }

    /// <summary>An in-memory pipeline around a seeded tiny HF model (no files but the tokenizer); 2 decoder layers
    /// unless <paramref name="textLayers"/> asks for room for more pruning stages.</summary>
    public static LlavaPipeline InMemory(TempDir dir, int seed = 1, TinyLlavaLayout layout = TinyLlavaLayout.Hf, int textLayers = 2)
    {
        string tokenizerDir = Path.Combine(dir.Path, "tokenizer");
        Directory.CreateDirectory(tokenizerDir);
        TinyLlava.CopyTokenizer(Llama2TokenizerDir, tokenizerDir, addLlavaTokens: layout != TinyLlavaLayout.Research);
        var config = TinyLlava.Config(layout, textLayers);
        var model = TinyLlava.Create(layout, seed, textLayers: textLayers);
        var processor = new ClipImageProcessor(PreprocessorConfig.Load(tokenizerDir, config));
        return new LlavaPipeline(config, model, TokenizerLoader.FromFolder(tokenizerDir), processor);
    }

    /// <summary>A deterministic non-square test image (gradients + a pattern), 45 × 60.</summary>
    public static RgbImage Image(int width = 45, int height = 60, int salt = 0) =>
        VisionTestData.Image(width, height, (x, y, c) => (byte)((x * (5 + c) + y * (3 + 2 * c) + salt * 37 + (x ^ y) * c) % 256));

    /// <summary>The same kind of image as a PNG file.</summary>
    public static string WritePng(string path, int width = 45, int height = 60)
    {
        var img = Image(width, height);
        var rows = VisionTestData.Unfiltered(width, height, 3, (x, y, c) => img.Pixels[(y * width + x) * 3 + c]);
        File.WriteAllBytes(path, VisionTestData.Png((uint)width, (uint)height, 2, rows));
        return path;
    }

    /// <summary>Logits [1, S, vocab] of the whole multimodal prompt, no cache.</summary>
    public static Tensor FullLogits(LlavaForConditionalGeneration model, IReadOnlyList<int> ids, Tensor pixelValues)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var features = model.EncodeImages(pixelValues);
        using var seq = model.BuildSequence(ids, features);
        var lm = model.LanguageModel;
        var hidden = lm.RunLayers(seq.Embeddings, seq.PositionIds, null, 0, lm.LayerCount);
        return lm.Logits(hidden).MoveToOuterDisposeScope();
    }
}
