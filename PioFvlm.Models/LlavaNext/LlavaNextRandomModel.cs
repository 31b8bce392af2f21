using PioFvlm.Core.Generation;
using PioFvlm.Core.Runtime;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Models.LlavaNext;

/// <summary>LLaVA-NeXT with random weights, for measurements (<see cref="VlmFamilies.BuildRandom"/>).</summary>
static class LlavaNextRandomModel
{
    /// <summary>The measurement default: a square image on the 672 × 672 pinpoint, base view + 2 × 2 tiles, 2,928
    /// positions (576 + 48 rows of 48 features and a newline).</summary>
    public static readonly (int Width, int Height) DefaultImage = (672, 672);

    public static RandomModel Build(LlavaNextConfig config, RandomModelOptions options)
    {
        TorchRuntime.EnsureLoaded();
        string folder = Path.GetDirectoryName(Path.GetFullPath(config.SourcePath))!;
        if (options.TinyWidths) config = TinyWidths(config);
        var architecture = LlavaArchitecture.From(config);
        var (width, height) = options.ImageSize ?? DefaultImage;
        using var noGrad = no_grad();
        manual_seed(options.Seed);
        var model = LlavaNextPipeline.CreateModel(config, LlavaNextPipeline.CropOptions(folder, config), torch.device(options.Device),
                                                  options.DType);   // modules' default random init
        try
        {
            foreach (var p in model.parameters()) p.requires_grad = false;
            model.eval();
            var layout = model.Anyres.Layout(width, height);   // a bad size fails here, before any prompt
            var pipeline = new LlavaNextPipeline(config, model, LlavaPipeline.MissingTokenizerFor(folder, config));
            long parameters = model.parameters().Sum(p => p.numel());
            return new RandomModel(pipeline, parameters, (textTokens, seed) => Prompt(config, architecture, layout, width, height, textTokens, seed));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The same crops, pinpoints, layer counts and vocabulary (so the anyres arithmetic and every visual count are the
    /// real ones) with tiny widths: CLIP 32 wide (2 heads), decoder 64 wide with 4 heads of 16 (2 KV heads where the
    /// config has grouped-query attention, e.g. Mistral). Changed in the config, so the pipeline's profile (cost curve,
    /// probes) describes the model actually built.
    /// </summary>
    static LlavaNextConfig TinyWidths(LlavaNextConfig full) => full with
    {
        Vision = full.RequireVision() with { HiddenSize = 32, IntermediateSize = 64, NumAttentionHeads = 2 },
        ProjectorInputSize = 32 * full.VisionFeatureLayers.Count,
        Text = full.Text with
        {
            HiddenSize = 64, NumAttentionHeads = 4, HeadDim = 16, IntermediateSize = 128,
            NumKeyValueHeads = full.Text.NumKeyValueHeads == full.Text.NumAttentionHeads ? 4 : 2,
        },
    };

    /// <summary>LLaVA's prompt ids (one image placeholder, as <see cref="LlavaNextPipeline.Prepare"/> leaves it), pixels
    /// [1, crops, 3, S, S] standard normal (base view + the layout's tiles), image_sizes [[H, W]].</summary>
    static VlmInputs Prompt(LlavaNextConfig config, LlavaArchitecture architecture, AnyresLayout layout, int width, int height,
                            int textTokens, int seed)
    {
        var ids = LlavaRandomModel.PromptIds(architecture, textTokens, seed);
        long positions = ids.Count - 1 + layout.Tokens;
        if (positions > config.Text.MaxPositionEmbeddings)
            throw new ArgumentException($"{config.SourcePath}: a {width}x{height} image gives {layout.Tokens} positions, with {ids.Count - 1} text tokens " +
                                        $"{positions}, more than max_position_embeddings {config.Text.MaxPositionEmbeddings}");
        int size = architecture.Vision.ImageSize;
        var pixels = randn([1, layout.Crops, 3, size, size]);
        var sizes = tensor(new long[] { height, width }, [1, 2]);
        return new VlmInputs(ids, pixels, imageCount: 1, imageSizes: sizes);
    }
}
