using PioFvlm.Core.IO;
using PioFvlm.Core.IO.Loading;
using PioFvlm.Core.IO.Safetensors;
using PioFvlm.Models;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>
/// Round trips through our own checkpoint writers: a tiny LLaVA saved in each layout and loaded back through
/// <see cref="LlavaPipeline.FromPretrained"/> gives the in-memory model's logits bit for bit.
/// </summary>
public class LlavaLoadingTests
{
    static IEnumerable<TestCaseData> Layouts()
    {
        yield return new TestCaseData(TinyLlavaLayout.Hf, 1, false).SetName("HfLegacySingleFile");
        yield return new TestCaseData(TinyLlavaLayout.Modern, 1, false).SetName("HfModernNames");
        yield return new TestCaseData(TinyLlavaLayout.Hf, 3, false).SetName("HfSharded3");
        yield return new TestCaseData(TinyLlavaLayout.Research, 1, false).SetName("ResearchBinPlusClipFolder");
        // transformers >= 5.6 drops the CLIP vision_model level on save.
        yield return new TestCaseData(TinyLlavaLayout.Hf, 1, true).SetName("HfLegacyClipWithoutVisionModel");
        yield return new TestCaseData(TinyLlavaLayout.Modern, 3, true).SetName("HfModernClipWithoutVisionModelSharded3");
    }

    [TestCaseSource(nameof(Layouts))]
    public void LoadedCheckpointReproducesInMemoryLogitsExactly(TinyLlavaLayout layout, int shards, bool clipWithoutVisionModel)
    {
        using var dir = new TempDir();
        string modelDir = dir.File("model");
        using var original = TinyLlava.Create(layout, seed: 11, storage: ScalarType.Float16);
        var folders = TinyLlava.Save(original, modelDir, new TinyLlavaOptions
        {
            Layout = layout, DType = ScalarType.Float16, Shards = shards, TokenizerDirectory = LlavaTestModels.Llama2TokenizerDir,
            ClipWithoutVisionModel = clipWithoutVisionModel,
            VisionTowerDirectory = layout == TinyLlavaLayout.Research ? dir.File("clip") : null,
        });
        if (shards > 1)
        {
            var shardFiles = Directory.GetFiles(modelDir, "model-*-of-*.safetensors");
            Assert.That(shardFiles, Has.Length.EqualTo(shards), "shard files written");
            Assert.That(File.Exists(Path.Combine(modelDir, "model.safetensors")), Is.False);
        }
        if (layout == TinyLlavaLayout.Research)
        {
            Assert.That(File.Exists(Path.Combine(modelDir, "pytorch_model.bin")), "research weights are a .bin");
            using var clip = CheckpointSource.Open(folders.VisionTowerDirectory!);
            Assert.That(clip.Entries.Keys, Has.Some.StartsWith("text_model."), "the CLIP folder holds a whole CLIPModel");
        }
        if (layout == TinyLlavaLayout.Modern)
        {
            using var source = CheckpointSource.Open(modelDir);
            Assert.That(source.Entries.Keys, Has.Member("lm_head.weight").And.Member("model.language_model.norm.weight"));
        }
        if (layout != TinyLlavaLayout.Research)
        {
            // The spelling under test is really on disk (and the other one is not).
            using var source = CheckpointSource.Open(modelDir);
            string prefix = layout == TinyLlavaLayout.Modern ? "model.vision_tower." : "vision_tower.";
            string flat = prefix + "embeddings.patch_embedding.weight", nested = prefix + "vision_model.embeddings.patch_embedding.weight";
            Assert.That(source.Entries.Keys, Has.Member(clipWithoutVisionModel ? flat : nested).And.No.Member(clipWithoutVisionModel ? nested : flat));
        }

        using var pipeline = LlavaPipeline.FromPretrained(modelDir, new LoadOptions { VisionTowerPath = folders.VisionTowerDirectory });
        Assert.That(pipeline.DType, Is.EqualTo(ScalarType.Float32));
        using var inputs = pipeline.Prepare(pipeline.FormatPrompt("What is shown here?"), [LlavaTestModels.Image()]);
        using var expected = LlavaTestModels.FullLogits(original, inputs.TokenIds, inputs.PixelValues!);
        using var actual = LlavaTestModels.FullLogits(pipeline.Model, inputs.TokenIds, inputs.PixelValues!);
        Assert.That(actual.shape[1], Is.EqualTo(inputs.TokenIds.Count - 1 + LlavaTestModels.ImageTokens));
        TensorAssert.Equal(actual, expected, $"{layout} logits after a save/load round trip");
    }

    [TestCase(ScalarType.BFloat16)]
    [TestCase(ScalarType.Float16)]
    public void LoadsInTheRequestedDType(ScalarType dtype)
    {
        using var dir = new TempDir();
        using var original = TinyLlava.Create(TinyLlavaLayout.Hf, seed: 5, storage: ScalarType.Float16);
        TinyLlava.Save(original, dir.Path, new TinyLlavaOptions { TokenizerDirectory = LlavaTestModels.Llama2TokenizerDir });
        using var pipeline = LlavaPipeline.FromPretrained(dir.Path, new LoadOptions { DType = dtype });
        Assert.That(pipeline.DType, Is.EqualTo(dtype));
        var wrong = pipeline.Model.named_parameters().Where(p => p.parameter.dtype != dtype).Select(p => p.name).ToList();
        Assert.That(wrong, Is.Empty, $"parameters not in {dtype}");

        // The fp16 file's values converted to the target dtype, against the in-memory float32 ones converted the same way.
        var loaded = pipeline.Model.state_dict();
        foreach (var (name, value) in original.state_dict())
        {
            using var want = value.to(dtype);
            TensorAssert.Equal(loaded[name], want, name);
        }
        using var inputs = pipeline.Prepare(pipeline.FormatPrompt("Hi"), [LlavaTestModels.Image()]);
        var result = pipeline.Generate(inputs, new() { MaxNewTokens = 3, SuppressTokens = [2] });
        Assert.That(result.TokenIds, Has.Count.EqualTo(3));
    }

    [Test]
    public void StrictLoadingListsMissingAndUnexpectedKeys()
    {
        using var dir = new TempDir();
        TinyLlava.Write(dir.Path, new TinyLlavaOptions { TokenizerDirectory = LlavaTestModels.Llama2TokenizerDir, Seed = 2 });
        string file = Path.Combine(dir.Path, "model.safetensors");
        string[] dropped = ["language_model.model.norm.weight", "multi_modal_projector.linear_2.bias"];
        const string extra = "language_model.model.layers.7.mlp.surplus.weight";
        var tensors = new List<(string, Tensor)>();
        using (var source = CheckpointSource.Open(file))
        {
            foreach (var name in source.Entries.Keys.Where(k => !dropped.Contains(k)))
                tensors.Add((name, source.Load(name)));
        }
        tensors.Add((extra, zeros(4, 4, dtype: ScalarType.Float16)));
        SafetensorsWriter.Write(file, tensors);
        foreach (var (_, t) in tensors) t.Dispose();

        var e = Assert.Throws<StateLoadException>(() => LlavaPipeline.FromPretrained(dir.Path))!;
        Assert.That(e.Message, Does.Contain(dropped[0]).And.Contain(dropped[1]).And.Contain(extra));
        Assert.That(e.Report.Missing, Is.EquivalentTo(dropped));
        Assert.That(e.Report.Unexpected, Is.EqualTo(new[] { extra }));
    }

    [Test]
    public void ResearchCheckpointWithoutVisionTowerIsAClearError()
    {
        using var dir = new TempDir();
        TinyLlava.Write(dir.File("m"), new TinyLlavaOptions
        {
            Layout = TinyLlavaLayout.Research, TokenizerDirectory = LlavaTestModels.Llama2TokenizerDir, VisionTowerDirectory = dir.File("clip"),
        });
        var e = Assert.Throws<ArgumentException>(() => LlavaPipeline.FromPretrained(dir.File("m")))!;
        Assert.That(e.Message, Does.Contain("vision tower").And.Contain(TinyLlava.ResearchTowerName).And.Contain("config.json"));
    }
}
