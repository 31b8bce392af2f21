using PioFvlm.Tests.CommandLine;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Models;

/// <summary><c>pio-fvlm generate</c> and <c>make-tiny</c> run in-process on the bundled tiny model (Console captured).</summary>
[NonParallelizable]
public class LlavaCliTests
{
    static string BundledModel() => LlavaTestModels.BundledTinyModel();

    [Test]
    public void GenerateOnTheBundledModelPrintsAnAnswerAndStatistics()
    {
        using var dir = new TempDir();
        string png = LlavaTestModels.WritePng(dir.File("image.png"));
        var (code, output, error) = CliRunner.Run("generate", "--model", BundledModel(), "--image", png, "--prompt", "What is this?",
                                        "--max-new-tokens", "5");
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(error, Is.Empty);
        var lines = output.Split('\n');
        Assert.That(lines[0].Trim(), Is.Not.Empty, "the answer comes first");
        Assert.That(output, Does.Contain("visual tokens   49 in, 49 out"));
        Assert.That(output, Does.Match(@"decode +[0-9.]+ ms, [1-5] tokens"));
        Assert.That(output, Does.Contain("prefill").And.Contain("vision").And.Contain("kv cache"));
    }

    [Test]
    public void GenerateJsonHasTheTokenIdsAndStatistics()
    {
        using var dir = new TempDir();
        string png = LlavaTestModels.WritePng(dir.File("image.png"), 28, 28);
        var (code, output, error) = CliRunner.Run("generate", "--model", BundledModel(), "--image", png, "--prompt", "USER: <image>\nHi ASSISTANT:",
                                        "--max-new-tokens", "3", "--json");
        Assert.That(code, Is.EqualTo(0), error);
        using var doc = System.Text.Json.JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.That(root.GetProperty("prompt").GetString(), Is.EqualTo("USER: <image>\nHi ASSISTANT:"), "a prompt with <image> is used as given");
        Assert.That(root.GetProperty("token_ids").GetArrayLength(), Is.InRange(1, 3));
        Assert.That(root.GetProperty("stats").GetProperty("visual_tokens_in").GetInt64(), Is.EqualTo(49));
    }

    [Test]
    public void MissingImageIsExitOneNamingTheFile()
    {
        using var dir = new TempDir();
        string missing = dir.File("no-such-image.png");
        var (code, _, error) = CliRunner.Run("generate", "--model", BundledModel(), "--image", missing, "--prompt", "Hi");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.Contain(missing));
        Assert.That(error.Trim().Split('\n'), Has.Length.EqualTo(1), "one line");
    }

    [Test]
    public void BadConfigAndBadImageAreExitOne()
    {
        using var dir = new TempDir();
        string notImage = dir.File("notes.png");
        File.WriteAllText(notImage, "not an image");
        var (code, _, error) = CliRunner.Run("generate", "--model", BundledModel(), "--image", notImage, "--prompt", "Hi");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.Contain(notImage));

        string model = dir.File("broken-model");
        Directory.CreateDirectory(model);
        File.WriteAllText(Path.Combine(model, "config.json"), "{\"model_type\": \"llava\", \"vision_feature_select_strategy\": \"middle\"}");
        string png = LlavaTestModels.WritePng(dir.File("image.png"));
        (code, _, error) = CliRunner.Run("generate", "--model", model, "--image", png, "--prompt", "Hi");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.Contain("config.json").And.Contain("vision_feature_select_strategy"));

        (code, _, error) = CliRunner.Run("generate", "--model", BundledModel(), "--image", png);
        Assert.That(code, Is.EqualTo(2), "missing --prompt is a usage error");
        Assert.That(error, Does.Contain("--prompt"));
    }

    [Test]
    public void MakeTinyWritesALoadableFolder()
    {
        using var dir = new TempDir();
        string output = dir.File("tiny");
        var (code, stdout, error) = CliRunner.Run("make-tiny", "--out", output, "--layout", "modern", "--seed", "4", "--dtype", "F32",
                                        "--tokenizer", LlavaTestModels.Llama2TokenizerDir);
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(stdout, Does.Contain(output));
        using var pipeline = LlavaPipeline.FromPretrained(output);
        Assert.That(pipeline.Model.LanguageModel.Dims.VocabSize, Is.EqualTo(TinyLlava.HfVocab));
        Assert.That(pipeline.Tokenizer.TokenToId("<image>"), Is.EqualTo(TinyLlava.ImageTokenId));
        Assert.That(pipeline.Tokenizer.TokenToId("<pad>"), Is.EqualTo(TinyLlava.PadTokenId));
        Assert.That(pipeline.Tokenizer.PadId, Is.EqualTo(TinyLlava.PadTokenId));
        // The added token is matched in raw text, and (HF legacy) the text after it starts with "▁".
        Assert.That(pipeline.Tokenizer.Encode("<image>\nHi", addBos: true).Take(4), Is.EqualTo(new[] { 1, 32000, 29871, 13 }));
    }
}
