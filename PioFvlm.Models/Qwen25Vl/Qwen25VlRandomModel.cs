using PioFvlm.Core.Generation;
using PioFvlm.Core.Runtime;
using PioFvlm.Core.Text;
using PioFvlm.Models.Configs;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>Qwen2.5-VL with random weights, for measurements (<see cref="VlmFamilies.BuildRandom"/>).</summary>
static class Qwen25VlRandomModel
{
    /// <summary>The reference scripts' fixed input: 1008 × 1008, a 72 × 72 patch grid, 1,296 tokens after the 2 × 2 merge.</summary>
    public static readonly (int Width, int Height) DefaultImage = (1008, 1008);

    public static RandomModel Build(Qwen25VlConfig config, RandomModelOptions options)
    {
        TorchRuntime.EnsureLoaded();
        string folder = Path.GetDirectoryName(Path.GetFullPath(config.SourcePath))!;
        if (options.TinyWidths) config = TinyWidths(config);
        var processor = new Qwen25VlImageProcessor(Qwen25VlProcessorOptions.Load(folder));
        var (width, height) = options.ImageSize ?? DefaultImage;
        var grid = processor.GridFor(width, height);   // a bad size fails here, before the build
        using var noGrad = no_grad();
        manual_seed(options.Seed);
        var model = new Qwen25VlForConditionalGeneration(config, torch.device(options.Device), options.DType);   // modules' default random init
        try
        {
            foreach (var p in model.parameters()) p.requires_grad = false;
            model.eval();
            var tokenizer = new MissingTokenizer(folder, config.Text.BosTokenId, config.Text.EosTokenIds.FirstOrDefault(config.Text.VocabSize - 1),
                                                 null, config.Text.VocabSize);
            var pipeline = new Qwen25VlPipeline(config, model, tokenizer, processor);
            long parameters = model.parameters().Sum(p => p.numel());
            return new RandomModel(pipeline, parameters, (textTokens, seed) => Prompt(config, processor.Options, grid, textTokens, seed));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The same layer counts, window layout, merge and vocabulary with tiny widths: tower 32 wide (2 heads of 16, so its
    /// 2-D rotary tables keep their split), decoder 64 wide with 4 heads of 16 over 2 KV heads, M-RoPE sections
    /// (2, 3, 3) = head_dim / 2 in the 7B's 16:24:24 proportion.
    /// </summary>
    static Qwen25VlConfig TinyWidths(Qwen25VlConfig full) => full with
    {
        Vision = full.Vision with { HiddenSize = 32, NumHeads = 2, IntermediateSize = 64, OutHiddenSize = 64 },
        Text = full.Text with
        {
            HiddenSize = 64, NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 16, IntermediateSize = 128, MropeSection = [2, 3, 3],
        },
    };

    /// <summary>
    /// 4 text ids, &lt;|vision_start|&gt;, the image's T·(H/2)·(W/2) &lt;|image_pad|&gt; ids (expanded, as
    /// <see cref="Qwen25VlPipeline.Prepare"/> makes them), &lt;|vision_end|&gt;, the remaining text ids (the two markers
    /// come on top of <paramref name="textTokens"/>); text ids below the special tokens. Pixels [patches, C·T·P·P]
    /// standard normal (already patchified, as the processor lays them out) and image_grid_thw [[T, H, W]].
    /// </summary>
    static VlmInputs Prompt(Qwen25VlConfig config, Qwen25VlProcessorOptions processor, Qwen25VlGrid grid, int textTokens, int seed)
    {
        if (textTokens < 5) throw new ArgumentOutOfRangeException(nameof(textTokens), textTokens, "the prompt needs at least 5 text tokens (4 before the image)");
        int merge = config.Vision.SpatialMergeSize;
        int visual = checked((int)grid.Tokens(merge));
        int textIdLimit = new[] { config.Text.VocabSize, config.VisionStartTokenId, config.ImageTokenId }
            .Concat(config.Text.EosTokenIds).Concat(config.Text.BosTokenId is int bos ? [bos] : []).Min();
        var rng = new Random(seed);
        var ids = new List<int>(textTokens + 2 + visual);
        for (int i = 0; i < textTokens; i++)
        {
            if (i == 4)
            {
                ids.Add(config.VisionStartTokenId);
                ids.AddRange(Enumerable.Repeat(config.ImageTokenId, visual));
                ids.Add(config.VisionEndTokenId);
            }
            ids.Add(rng.Next(0, textIdLimit));
        }
        if (ids.Count > config.Text.MaxPositionEmbeddings)
            throw new ArgumentException($"{config.SourcePath}: the prompt is {ids.Count} tokens ({visual} visual), more than max_position_embeddings {config.Text.MaxPositionEmbeddings}");
        var pixels = randn(grid.Patches, (long)config.Vision.InChannels * processor.TemporalPatchSize * processor.PatchSize * processor.PatchSize);
        return new VlmInputs(ids, pixels, imageCount: 1, imageGridThw: Qwen25VlGrid.ToTensor([grid]));
    }
}
