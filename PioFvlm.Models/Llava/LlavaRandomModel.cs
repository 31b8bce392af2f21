using PioFvlm.Core.Generation;
using PioFvlm.Core.Runtime;
using PioFvlm.Core.Text;
using PioFvlm.Core.Vision;
using PioFvlm.Models.Configs;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Models.Llava;

/// <summary>LLaVA-1.5 with random weights, for measurements (<see cref="VlmFamilies.BuildRandom"/>).</summary>
static class LlavaRandomModel
{
    public static RandomModel Build(LlavaConfig config, RandomModelOptions options)
    {
        TorchRuntime.EnsureLoaded();
        var architecture = LlavaArchitecture.From(config);
        if (options.TinyWidths) architecture = TinyWidths(architecture);
        using var noGrad = no_grad();
        manual_seed(options.Seed);
        var model = new LlavaForConditionalGeneration(architecture, torch.device(options.Device), options.DType);   // modules' default random init
        try
        {
            LlavaPipeline.Freeze(model);
            string folder = Path.GetDirectoryName(Path.GetFullPath(config.SourcePath))!;
            var pipeline = new LlavaPipeline(config, model, LlavaPipeline.MissingTokenizerFor(folder, config),
                                             new ClipImageProcessor(PreprocessorConfig.Load(folder, config)));
            long parameters = model.parameters().Sum(p => p.numel());
            return new RandomModel(pipeline, parameters, (textTokens, seed) => Prompt(architecture, textTokens, seed));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The same prompt layout (576 visual tokens from a 336-pixel image for 7B, all decoder and tower layers: methods read
    /// named tower layers, the real vocabulary) with tiny widths.
    /// </summary>
    static LlavaArchitecture TinyWidths(LlavaArchitecture full) => full with
    {
        Vision = full.Vision with { Hidden = 32, Intermediate = 64, Heads = 2 },
        Text = full.Text with { HiddenSize = 64, NumHeads = 4, NumKvHeads = 4, HeadDim = 16, IntermediateSize = 128 },
    };

    /// <summary>BOS, 4 text ids, the image id, the rest of the text; text ids below the image id (llava-hf: the base
    /// vocabulary); pixels [1, 3, S, S] standard normal.</summary>
    static VlmInputs Prompt(LlavaArchitecture architecture, int textTokens, int seed)
    {
        int size = architecture.Vision.ImageSize;
        return new VlmInputs(PromptIds(architecture, textTokens, seed), randn(1, 3, size, size), imageCount: 1);
    }

    /// <summary>BOS, 4 text ids, ONE image id (the LLaVA pipelines' Prepare leaves it unexpanded: the splice expands it
    /// to the image's feature count, reduced or not), the rest of the text; text ids below the image id (llava-hf: the
    /// base vocabulary). LLaVA-NeXT's random prompts too.</summary>
    internal static List<int> PromptIds(LlavaArchitecture architecture, int textTokens, int seed)
    {
        if (textTokens < 5) throw new ArgumentOutOfRangeException(nameof(textTokens), textTokens, "the prompt needs at least 5 text tokens (4 before the image)");
        int vocab = architecture.Text.VocabSize;
        int textIdLimit = architecture.ImageTokenId > 3 ? Math.Min(architecture.ImageTokenId, vocab) : vocab;
        var rng = new Random(seed);
        var ids = new List<int> { 1 };   // LLaMA's BOS
        for (int i = 1; i < textTokens; i++)
        {
            if (i == 5) ids.Add(architecture.ImageTokenId);
            ids.Add(rng.Next(3, textIdLimit));
        }
        return ids;
    }
}
