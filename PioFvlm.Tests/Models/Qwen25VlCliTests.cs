using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using PioFvlm.Bench.Eval.Runner;
using PioFvlm.Models;
using PioFvlm.Models.Qwen25Vl;
using PioFvlm.Tests.CommandLine;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>
/// <c>make-tiny --family qwen2.5-vl</c>, then every registered method through <c>generate</c> and <c>eval</c> on that
/// tiny Qwen2.5-VL (in-process CLI). Methods whose signals Qwen2.5-VL's CLS-free tower lacks must be refused with a
/// NotSupportedException that names Qwen2.5-VL, and the eval must report them and go on.
/// </summary>
[NonParallelizable]
public class Qwen25VlCliTests
{
    static string Root => PioFvlm.Tests.Pruning.FastVTests.RepoRoot();
    static string Config => Path.Combine(Root, "configs", "runs", "tiny-all-methods.json");

    /// <summary>The tiny-smoke images are 32 × 32: smart_resize with min_pixels 168² scales by √(168²/32²) = 5.25 to
    /// ceil(32·5.25/28)·28 = 168 per side, 6 × 6 merged tokens.</summary>
    const int SmokeVisualTokens = 36;

    /// <summary>Methods of tiny-all-methods.json that pool tokens into rows with no single M-RoPE position. (The CLS-based
    /// encoder methods run through their received-attention adaptations.)</summary>
    static readonly string[] Refused = ["Downsample-12"];

    TempDir _dir = null!;
    string _model = "";

    [OneTimeSetUp]
    public void MakeTheTinyModel()
    {
        _dir = new TempDir();
        _model = _dir.File("tiny-qwen");
        var (rc, stdout, stderr) = CliRunner.Run("make-tiny", "--family", "qwen2.5-vl", "--out", _model, "--seed", "3", "--dtype", "F32");
        Assert.That(rc, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain(_model));
    }

    [OneTimeTearDown]
    public void Clean() => _dir.Dispose();

    [Test]
    public void MakeTinyWritesALoadableFolderWithItsTokenizer()
    {
        using var model = (Qwen25VlPipeline)VlmLoader.FromPretrained(_model);
        Assert.That(model.Profile.Family, Is.EqualTo("qwen2.5-vl"));
        Assert.That(model.Config.Text.NumHiddenLayers, Is.EqualTo(2));
        // The byte-level vocabulary has no merges: text is its UTF-8 bytes; the chat specials are whole tokens.
        string text = "Is there a square? é";
        Assert.That(model.Tokenizer.Encode(text, addBos: true), Is.EqualTo(Encoding.UTF8.GetBytes(text).Select(b => (int)b)));
        Assert.That(model.Tokenizer.Encode("<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>", addBos: false),
            Is.EqualTo(new[] { 257, 'u', 's', 'e', 'r', '\n', 259, 261, 260 }));
        Assert.That(model.Tokenizer.Decode([72, 105, 258], skipSpecial: true), Is.EqualTo("Hi"));
        Assert.That(model.EosIds, Is.SupersetOf(new[] { 258, 256 }), "<|im_end|> and <|endoftext|> end generation");
        // The saved weights are the in-memory model's (Hub names mapped back by the loader).
        using var expected = TinyQwen25Vl.Create(seed: 3);
        var loaded = model.Model.state_dict();
        foreach (var (name, value) in expected.state_dict())
        {
            Assert.That(loaded[name].shape, Is.EqualTo(value.shape), name);
            Assert.That(loaded[name].eq(value).all().item<bool>(), Is.True, name);
        }
    }

    [Test]
    public void GeneratePrintsAnAnswerAndQwenStatistics()
    {
        var (rc, stdout, stderr) = CliRunner.Run("generate", "--model", _model, "--image", SmokeImage(), "--prompt", "Is there a square?",
                                                 "--max-new-tokens", "3", "--json");
        Assert.That(rc, Is.EqualTo(0), stderr);
        var root = JsonNode.Parse(stdout)!;
        Assert.That(root["token_ids"]!.AsArray().Count, Is.InRange(1, 3));
        Assert.That(root["stats"]!["visual_tokens_in"]!.GetValue<long>(), Is.EqualTo(SmokeVisualTokens));
    }

    [Test]
    public void EvalAnswersWithEveryMethodQwenSupportsAndReportsTheRefusedOnes()
    {
        using var output = new TempDir();
        var (rc, stdout, stderr) = CliRunner.Run("eval", Config, $"--Run:Model:Path={_model}", "--output", output.Path);
        TestContext.Out.WriteLine(stderr);
        Assert.That(rc, Is.EqualTo(0), stderr);
        var methods = JsonNode.Parse(File.ReadAllText(Config))!["Run"]!["Methods"]!.AsObject().Select(kv => kv.Key).Append("KeepAll").ToList();
        Assert.That(Refused, Is.SubsetOf(methods), "the refused list names methods of the config");
        // Average visual tokens per layer over the 2 decoder layers, from each method's budget rule (36 in).
        var expected = new Dictionary<string, double>
        {
            ["KeepAll"] = 36, ["PioFvlm-12"] = (36 + 12) / 2.0, ["FastV-12"] = (36 + 12) / 2.0, ["PDrop-12"] = (36 + 12) / 2.0,
            ["Random-12"] = (36 + 12) / 2.0, ["DART-12"] = (36 + 12) / 2.0, ["DivPrune-12"] = 12, ["CDPruner-12"] = 12,
            ["VisionZip-12"] = 12, ["SCOPE-12"] = 12, ["VisPruner-12"] = 12, ["HiPrune-12"] = 12, ["VisionZipThenPio-12"] = (24 + 12) / 2.0,
        };
        foreach (var method in methods)
        {
            string answersPath = Path.Combine(output.Path, method, "answers.jsonl");
            var answers = AnswerFile.Read(answersPath);
            string refusal = EvalRunner.RefusalPath(answersPath);
            if (Refused.Contains(method))
            {
                Assert.That(answers, Is.Empty, method);
                Assert.That(File.Exists(refusal), method + ": refusal file");
                Assert.That(File.ReadAllText(refusal), Does.Contain("Qwen2.5-VL").And.Contain(method), method);
                Assert.That(stderr, Does.Contain($"{method} refused"), method);
                continue;
            }
            Assert.That(File.Exists(refusal), Is.False, method);
            Assert.That(answers.Select(a => a.QuestionId), Is.EquivalentTo(new[] { "q1", "q2", "q3", "q4", "q5", "q6" }), method);
            double average = answers.Average(a => double.Parse(a.Metadata["visual_tokens"], CultureInfo.InvariantCulture));
            if (method == "HoloV-12")   // a crop quota above the crop's size is not padded on Qwen: at most 12
                Assert.That(average, Is.InRange(1, 12), method);
            else if (expected.TryGetValue(method, out double e))
                Assert.That(average, Is.EqualTo(e).Within(1e-9), $"{method}: average visual tokens per layer");
            else
                Assert.That(average, Is.GreaterThanOrEqualTo((36 + 12) / 2.0).And.LessThan(36), $"{method}: keeps 12 plus recycled tokens");
        }
        string report = File.ReadAllText(Path.Combine(output.Path, "report.csv"));
        Assert.That(report.Split('\n')[0].TrimEnd(), Does.EndWith(",refused"));
        Assert.That(report, Does.Contain("Downsample-12 refused on tiny-qwen (qwen2.5-vl)"));
        Assert.That(stdout, Does.Contain("| Downsample-12 | 12 | 0 |"));
        Assert.That(stdout, Does.Contain("| HiPrune-12 | 12 | 6 |"), "HiPrune answers every question through its Qwen code");
    }

    static IEnumerable<TestCaseData> MethodConfigs() =>
        JsonNode.Parse(File.ReadAllText(Config))!["Run"]!["Methods"]!.AsObject()
            .Select(kv => new TestCaseData(kv.Key, kv.Value!.ToJsonString()).SetName($"QwenGenerate_{kv.Key.Replace('-', '_')}"));

    [TestCaseSource(nameof(MethodConfigs))]
    public void GenerateRunsOrRefusesTheMethodClearly(string method, string json)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("pruning.json"), json);
        var (rc, stdout, stderr) = CliRunner.Run("generate", "--model", _model, "--image", SmokeImage(),
            "--prompt", "Is there a square?", "--max-new-tokens", "2", "--pruning", dir.File("pruning.json"), "--json");
        if (Refused.Contains(method))
        {
            // With --json the error is the JSON answer on stdout.
            Assert.That(rc, Is.EqualTo(1), $"{method}: {stdout}");
            var error = JsonNode.Parse(stdout)!;
            Assert.That(error["ok"]!.GetValue<bool>(), Is.False, method);
            Assert.That(error["error"]!.GetValue<string>(), Does.Contain("Qwen2.5-VL").And.Contain("no documented adaptation"), method);
            return;
        }
        Assert.That(rc, Is.EqualTo(0), $"{method}: {stderr}");
        var stats = JsonNode.Parse(stdout)!["stats"]!;
        Assert.That(stats["tokens"]!.GetValue<int>(), Is.InRange(1, 2), method);
        Assert.That(stats["visual_tokens_out"]!.GetValue<long>(), Is.LessThan(SmokeVisualTokens), $"{method} pruned something");
    }

    static string SmokeImage() => Path.Combine(Root, "configs", "data", "tiny-smoke", "images", "red-0.png");
}
