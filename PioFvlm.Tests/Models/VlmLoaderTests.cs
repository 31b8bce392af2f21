using PioFvlm.Core.Generation;
using PioFvlm.Models;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>
/// <see cref="VlmLoader"/> and the family registration: a weights-only folder (no tokenizer, no preprocessor config)
/// loads for ids when the tokenizer is not required, and families that are recognised but not implemented are refused
/// by name.
/// </summary>
public class VlmLoaderTests
{
    static string ConfigFolder(string name) => Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "configs", name);

    [Test]
    public void AFolderWithoutTokenizerFilesGeneratesIdsWhenTheTokenizerIsNotRequired()
    {
        using var dir = new TempDir();
        using var original = TinyLlava.Create(TinyLlavaLayout.Hf, seed: 7, storage: ScalarType.Float16);
        TinyLlava.Save(original, dir.Path, new TinyLlavaOptions { TokenizerDirectory = null });
        File.Delete(Path.Combine(dir.Path, PreprocessorConfig.FileName));

        var refused = Assert.Throws<FileNotFoundException>(() => VlmLoader.FromPretrained(dir.Path));
        Assert.That(refused!.Message, Does.Contain("tokenizer.json"), "the tokenizer is required by default");

        using var model = VlmLoader.FromPretrained(dir.Path, new LoadOptions { RequireTokenizer = false });
        Assert.That(((LlavaPipeline)model).Processor.Options.CropWidth, Is.EqualTo(28), "no preprocessor_config.json: the tower's image size");
        Assert.That(model.EosIds, Does.Contain(2), "EOS from the config");

        int[] ids = [1, 3148, 1001, 29901, TinyLlava.ImageTokenId, 13, 5618, 338];
        manual_seed(4);
        using var inputs = new VlmInputs(ids, rand(1, 3, 28, 28) * 2 - 1, imageCount: 1);
        const int newTokens = 3;
        List<int> tokens;
        using (no_grad())
        {
            var vision = model.BuildSequence(inputs);
            using var sequence = vision.Sequence;
            using var cache = model.NewCache(sequence.Length + newTokens);
            using var prefill = model.Prefill(sequence, cache);
            tokens = DecoderRunner.Greedy(model.Decoder, prefill, cache, new GenerationOptions { MaxNewTokens = newTokens, StopAtEos = false },
                                          model.EosIds, model.Tokenizer).Tokens;
        }

        // Oracle: the in-memory model, whole prompt re-run without a cache for each token, weights rounded as saved.
        var expected = new List<int>();
        for (int i = 0; i < newTokens; i++)
        {
            using var logits = LlavaTestModels.FullLogits(original, ids.Concat(expected).ToList(), inputs.PixelValues!);
            expected.Add((int)logits[0, -1].argmax().item<long>());
        }
        Assert.That(tokens, Is.EqualTo(expected));

        var decode = Assert.Throws<InvalidOperationException>(() => model.DecodeText(tokens));
        Assert.That(decode!.Message, Does.Contain("no tokenizer files in " + dir.Path).And.Contain("cannot be decoded"));
        var encode = Assert.Throws<InvalidOperationException>(() => model.Prepare(model.FormatPrompt("what is it?"), [LlavaTestModels.Image()]));
        Assert.That(encode!.Message, Does.Contain("no tokenizer files in " + dir.Path).And.Contain("cannot be encoded"));
    }

    [Test]
    public void EveryFamilyIsRegisteredOnce()
    {
        Assert.That(VlmFamilies.All.Select(f => f.Family), Is.EquivalentTo(Enum.GetValues<VlmFamily>()));
        Assert.That(VlmLoader.Implemented, Has.Count.EqualTo(3));
    }

    [Test]
    public void AnUnknownModelTypeIsRefusedNamingTheSupportedOnes()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), """{ "model_type": "idefics3" }""");
        var e = Assert.Throws<UnsupportedModelException>(() => VlmLoader.FromPretrained(dir.Path));
        Assert.That(e!.Message, Does.Contain("idefics3").And.Contain("llava_next").And.Contain("qwen2_5_vl"));
    }
}
