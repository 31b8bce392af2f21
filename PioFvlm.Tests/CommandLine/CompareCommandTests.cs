using PioFvlm.Core.IO;
using PioFvlm.Core.IO.Safetensors;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.CommandLine;

/// <summary>
/// <c>pio-fvlm compare</c> on the committed LLaVA-1.5, LLaVA-NeXT and Qwen2.5-VL transformers fixtures (scripts/hf_parity): the fixture's
/// reference file holds both the inputs (input_ids, pixel_values) and the reference outputs (logits, gen_tokens).
/// </summary>
[NonParallelizable]
public class CompareCommandTests
{
    static string FixtureDir => Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "hf_parity", "llava");
    static string Reference => Path.Combine(FixtureDir, "reference.safetensors");

    [Test]
    public void TheUnchangedCheckpointMatchesTransformers()
    {
        var (rc, stdout, stderr) = CliRunner.Run("compare", "--model", FixtureDir, "--inputs", Reference, "--reference", Reference,
                                                 "--greedy", "8", "--suppress-eos");
        TestContext.Out.WriteLine(stdout + stderr);
        Assert.That(rc, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("equal (8 tokens)").And.Contain("result          match"));
    }

    [TestCase("reference.safetensors")]
    [TestCase("reference_two_images.safetensors")]
    public void TheLlavaNextFixtureMatchesTransformers(string file)
    {
        string dir = Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "hf_parity", "llava_next");
        string reference = Path.Combine(dir, file);
        var (rc, stdout, stderr) = CliRunner.Run("compare", "--model", dir, "--inputs", reference, "--reference", reference,
                                                 "--greedy", "8", "--suppress-eos");
        TestContext.Out.WriteLine(stdout + stderr);
        Assert.That(rc, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("family          llava-next").And.Contain("equal (8 tokens)").And.Contain("result          match"));
    }

    /// <summary>The Qwen2.5-VL fixture (two images, image_grid_thw among the inputs) and its text-only prompt.</summary>
    [TestCase("reference.safetensors")]
    [TestCase("reference_text_only.safetensors")]
    public void TheQwen25VlFixtureMatchesTransformers(string file)
    {
        string dir = Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "hf_parity", "qwen25vl");
        string reference = Path.Combine(dir, file);
        var (rc, stdout, stderr) = CliRunner.Run("compare", "--model", dir, "--inputs", reference, "--reference", reference,
                                                 "--greedy", "8", "--suppress-eos");
        TestContext.Out.WriteLine(stdout + stderr);
        Assert.That(rc, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("family          qwen2.5-vl").And.Contain("equal (8 tokens)").And.Contain("result          match"));
    }

    [Test]
    public void TheQwenBatchOfTwoIsRefusedByName()
    {
        string dir = Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "hf_parity", "qwen25vl");
        string reference = Path.Combine(dir, "reference_batch_padded.safetensors");
        var (rc, _, stderr) = CliRunner.Run("compare", "--model", dir, "--inputs", reference, "--reference", reference);
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("reference_batch_padded.safetensors").And.Contain("input_ids must be [1, S]").And.Contain("[2, 73]"));
    }

    [Test]
    public void OnePerturbedWeightIsOutsideTolerance()
    {
        using var dir = new TempDir();
        foreach (var file in Directory.GetFiles(FixtureDir).Where(f => !f.EndsWith(".safetensors", StringComparison.Ordinal) || f.EndsWith("model.safetensors", StringComparison.Ordinal)))
            File.Copy(file, dir.File(Path.GetFileName(file)));
        const string target = "down_proj.weight";
        using (var source = CheckpointSource.Open(Path.Combine(FixtureDir, "model.safetensors")))
        {
            string victim = source.Entries.Keys.Order().First(k => k.EndsWith(target, StringComparison.Ordinal) && k.Contains("layers.1."));
            var tensors = source.Entries.Keys.Select(k =>
            {
                var t = source.Load(k);
                if (k == victim) t[0, 0] = t[0, 0] + 0.5f;   // one element of one weight
                return (k, t);
            }).ToList();
            SafetensorsWriter.Write(dir.File("model.safetensors"), tensors);
            foreach (var (_, t) in tensors) t.Dispose();
            TestContext.Out.WriteLine($"perturbed {victim}[0, 0] by +0.5");
        }
        var (rc, stdout, stderr) = CliRunner.Run("compare", "--model", dir.Path, "--inputs", Reference, "--reference", Reference, "--json");
        TestContext.Out.WriteLine(stdout + stderr);
        Assert.That(rc, Is.EqualTo(1), stderr);
        Assert.That(stdout, Does.Contain("\"within_tolerance\": false"));
    }

    [Test]
    public void AMissingInputTensorIsNamed()
    {
        using var dir = new TempDir();
        using (var source = CheckpointSource.Open(Reference))
        using (var pixels = source.Load("pixel_values"))
            SafetensorsWriter.Write(dir.File("inputs.safetensors"), [("pixel_values", pixels)]);
        var (rc, _, stderr) = CliRunner.Run("compare", "--model", FixtureDir, "--inputs", dir.File("inputs.safetensors"), "--reference", Reference);
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("inputs.safetensors").And.Contain("'input_ids' is missing"));
    }

    [Test]
    public void AWrongShapeIsNamed()
    {
        using var dir = new TempDir();
        using (var source = CheckpointSource.Open(Reference))
        using (var ids = source.Load("input_ids"))
        using (var pixels = source.Load("pixel_values"))
        using (var shorter = ids.narrow(1, 0, ids.shape[1] - 1))
            SafetensorsWriter.Write(dir.File("inputs.safetensors"), [("input_ids", shorter), ("pixel_values", pixels)]);
        var (rc, _, stderr) = CliRunner.Run("compare", "--model", FixtureDir, "--inputs", dir.File("inputs.safetensors"), "--reference", Reference);
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("logits").And.Contain("do not match input_ids"));
    }

    [Test]
    public void BadPixelLayoutIsNamed()
    {
        using var dir = new TempDir();
        using (var source = CheckpointSource.Open(Reference))
        using (var ids = source.Load("input_ids"))
        using (var pixels = zeros(1, 3, 14, 14))
            SafetensorsWriter.Write(dir.File("inputs.safetensors"), [("input_ids", ids), ("pixel_values", pixels)]);
        var (rc, _, stderr) = CliRunner.Run("compare", "--model", FixtureDir, "--inputs", dir.File("inputs.safetensors"), "--reference", Reference);
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("pixel_values must be [1, 3, 28, 28]").And.Contain("[1, 3, 14, 14]"));
    }
}
