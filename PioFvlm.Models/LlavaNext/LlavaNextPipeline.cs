using System.Diagnostics;
using PioFvlm.Core.Generation;
using PioFvlm.Core.IO;
using PioFvlm.Core.IO.Loading;
using PioFvlm.Core.Models;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Runtime;
using PioFvlm.Core.Text;
using PioFvlm.Core.Vision;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Models.LlavaNext;

/// <summary>
/// A loaded LLaVA-NeXT model (llava-hf/llava-v1.6-vicuna-7b-hf, llava-v1.6-mistral-7b-hf, either HF key spelling, or
/// the research layout) with its tokenizer and anyres processor, used through <see cref="IVisionLanguageModel"/>.
/// Visual tokens exclude the image_newline rows (see <see cref="AnyresOrigin"/>); <see cref="PruningScope"/> selects the
/// reference-compatible base-view-only pruning. Threads: as <see cref="LlavaPipeline"/>.
/// </summary>
public sealed class LlavaNextPipeline : IVisionLanguageModel
{
    public LlavaNextConfig Config { get; }
    public LlavaNextForConditionalGeneration Model { get; }
    public ITokenizer Tokenizer { get; }
    public AnyresImageProcessor Processor { get; }
    public LlavaPromptEncoder Prompts { get; }
    public ScalarType DType { get; }
    public Device Device { get; }
    public ModelProfile Profile { get; }
    public IDecoderStack Decoder => Model.LanguageModel;
    public IReadOnlySet<int> EosIds { get; }

    /// <summary>Which tokens pruning may touch when the plan does not say (<see cref="PruningPlan.Scope"/>); the whole
    /// image by default.</summary>
    public AnyresPruningScope PruningScope { get; set; } = AnyresPruningScope.WholeImage;

    public LlavaNextPipeline(LlavaNextConfig config, LlavaNextForConditionalGeneration model, ITokenizer tokenizer)
    {
        Config = config;
        Model = model;
        Tokenizer = tokenizer;
        Processor = model.Anyres;
        Prompts = new LlavaPromptEncoder(tokenizer, config.ImageTokenId);
        var first = model.parameters().First();
        DType = first.dtype;
        Device = first.device;
        Profile = LlavaNextProfile.For(config);
        EosIds = config.Text.EosTokenIds.Append(tokenizer.EosId).ToHashSet();
    }

    /// <summary>The module and processor for a parsed config whose vision tower is attached.</summary>
    public static LlavaNextForConditionalGeneration CreateModel(LlavaNextConfig config, ClipImageProcessorOptions crops, Device? device = null,
                                                                ScalarType dtype = ScalarType.Float32)
    {
        CheckTextModel(config);
        var architecture = LlavaArchitecture.From(config);
        var variant = config.Layout == LlavaLayout.Research ? AnyresVariant.Research : AnyresVariant.Hf;
        var processor = new AnyresImageProcessor(crops, config.ImageGridPinpoints, architecture.Vision.PatchSize, variant);
        return new LlavaNextForConditionalGeneration(architecture, processor, device, dtype);
    }

    /// <summary>The per-crop CLIP settings of <paramref name="directory"/>'s preprocessor_config.json (or the tower's size):
    /// each crop is already S×S, so the resize and centre crop are no-ops.</summary>
    public static ClipImageProcessorOptions CropOptions(string directory, LlavaNextConfig config)
    {
        var crops = PreprocessorConfig.Load(directory, config) with { AspectMode = ClipAspectMode.CenterCrop };
        return crops with { ShortestEdge = crops.CropHeight };
    }

    /// <summary>Mistral's sliding window is not implemented: a window that could bind is refused, not ignored.</summary>
    static void CheckTextModel(LlavaNextConfig config)
    {
        if (config.PatchMergeType != "spatial_unpad")
            throw new NotSupportedException($"{config.SourcePath}: mm_patch_merge_type '{config.PatchMergeType}' is not supported for LLaVA-NeXT (only 'spatial_unpad', what HF always does)");
        if (config.Text.SlidingWindow is int window && window < config.Text.MaxPositionEmbeddings)
            throw new NotSupportedException(
                $"{config.SourcePath}: sliding_window {window} is smaller than max_position_embeddings {config.Text.MaxPositionEmbeddings}; " +
                "sliding-window attention is not implemented (every layer attends to all earlier positions), so sequences longer than " +
                $"{window} would silently differ from the reference. Set sliding_window to null (llava-v1.6-mistral-7b-hf does) if the window never binds");
    }

    /// <summary>
    /// Loads config.json, the weights (HF legacy or modern names; research layout with <see cref="LoadOptions.VisionTowerPath"/>
    /// giving the CLIP config and, when the checkpoint holds no tower weights, the tower), the tokenizer and the
    /// processor settings. Strict: every missing, unexpected or mis-shaped tensor is listed in one error.
    /// </summary>
    public static LlavaNextPipeline FromPretrained(string modelDirectory, LoadOptions? options = null)
    {
        options ??= new LoadOptions();
        var (config, processorDirectory) = LlavaCheckpointFolder.ReadConfig<LlavaNextConfig>(modelDirectory, options, "LLaVA-NeXT");
        bool research = config.Layout == LlavaLayout.Research;

        var model = CreateModel(config, CropOptions(processorDirectory, config), torch.device(options.Device), options.DType);
        try
        {
            using (var source = OpenWeights(modelDirectory, research, options.VisionTowerPath))
                StateLoader.Load(model, source);
            foreach (var p in model.parameters()) p.requires_grad = false;
            model.eval();
            model.LanguageModel.Kernel = options.Attention;
            var tokenizer = LlavaCheckpointFolder.Tokenizer(modelDirectory, options, config);
            return new LlavaNextPipeline(config, model, tokenizer);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>HF: the folder with <see cref="LlavaKeyMaps.Hf"/>. Research: the folder with <see cref="LlavaKeyMaps.Research"/>,
    /// plus the CLIP folder when the checkpoint carries no tower weights (LLaVA-1.6 checkpoints that tuned the tower do).</summary>
    static CombinedTensorSource OpenWeights(string modelDirectory, bool research, string? towerDirectory)
    {
        if (!research) return new CombinedTensorSource((CheckpointSource.Open(modelDirectory), LlavaKeyMaps.Hf));
        var weights = CheckpointSource.Open(modelDirectory);
        if (weights.Entries.Keys.Any(k => k.StartsWith("model.vision_tower.", StringComparison.Ordinal)))
            return new CombinedTensorSource((weights, LlavaKeyMaps.Research));
        return new CombinedTensorSource((weights, LlavaKeyMaps.Research), (CheckpointSource.Open(towerDirectory!), LlavaKeyMaps.ClipTower));
    }

    /// <summary>The checkpoint's conversation template: Mistral text models "[INST] &lt;image&gt;\n{q} [/INST]"; Vicuna the
    /// llava_v1 system prompt (HF llava-v1.6-vicuna model card) or research vicuna_v1.</summary>
    public string FormatPrompt(string question, int imageCount = 1) =>
        Config.Text.ModelType == "mistral" ? LlavaPromptFormat.MistralInstruct(question, imageCount)
        : Config.Layout == LlavaLayout.Research ? LlavaPromptFormat.VicunaV1(question, imageCount)
        : LlavaPromptFormat.LlavaV1(question, imageCount);

    /// <summary>Tokenises a prompt holding one <c>&lt;image&gt;</c> per image and cuts the images into anyres crops.</summary>
    public VlmInputs Prepare(string prompt, IReadOnlyList<RgbImage> images, int maxNewTokens = 0)
    {
        var encoded = Prompts.Encode(prompt);
        if (encoded.ImageCount != images.Count)
            throw new ArgumentException($"the prompt has {encoded.ImageCount} <image> placeholder(s) but {images.Count} image(s) were given");
        var counts = images.Select(i => (long)Processor.Layout(i.Width, i.Height).Tokens).ToList();
        long length = encoded.InputIds.Count - images.Count + counts.Sum();
        int limit = Config.Text.MaxPositionEmbeddings;
        if (length + maxNewTokens > limit)
            throw new ArgumentException(
                $"the prompt is {length} positions ({encoded.InputIds.Count - images.Count} text tokens + visual tokens [{string.Join(", ", counts)}] " +
                $"for {images.Count} image(s), image_newline included){(maxNewTokens > 0 ? $" plus {maxNewTokens} new tokens" : "")}, more than the " +
                $"model's max_position_embeddings ({limit}); shorten the prompt or use fewer or smaller images");
        if (images.Count == 0) return new VlmInputs(encoded.InputIds, null, 0);
        var (pixels, sizes) = Processor.Preprocess(images);
        return new VlmInputs(encoded.InputIds, pixels, images.Count, sizes);
    }

    public KvCache NewCache(long capacity) => KvCache.For(Model.Architecture.Text, 1, capacity, DType, Device);

    /// <summary>Tower and projector on every crop, the optional pre-LLM reducer (per crop or per packed image, see
    /// <see cref="LlavaNextForConditionalGeneration.EncodeImages(Tensor, Tensor, IPreLlmReducer, out IReadOnlyList{IReadOnlyList{VisualSpan}}, IReadOnlyList{int})"/>),
    /// packing and the splice. <paramref name="pruningScope"/> (null: <see cref="PruningScope"/>) picks the spans pruning may see.</summary>
    public VisionStageOutput BuildSequence(VlmInputs inputs, IPreLlmReducer? reducer = null, AnyresPruningScope? pruningScope = null)
    {
        var visible = pruningScope ?? PruningScope;
        if (inputs.PixelValues is not null && inputs.ImageSizes is null)
            throw new ArgumentException("LLaVA-NeXT needs image_sizes [n, 2] (height, width) beside pixel_values");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        var embed = (Func<Tensor, Tensor>)Model.LanguageModel.Embed;
        int imageToken = Model.Architecture.ImageTokenId;
        MultimodalSequence sequence;
        long fromTower = 0;
        if (inputs.PixelValues is null)
            sequence = ImageFeatureSplicer.Splice(inputs.TokenIds, imageToken, [], embed);
        else
        {
            var pixels = inputs.PixelValues.to(Device);
            fromTower = Model.Layouts(inputs.ImageSizes!).Sum(l => (long)l.VisualTokens);
            if (reducer is null)
            {
                var packed = Model.EncodeImages(pixels, inputs.ImageSizes!);
                sequence = ImageFeatureSplicer.Splice(inputs.TokenIds, imageToken, packed.Select(p => p.Features).ToList(), embed, null,
                                                      packed.Select(p => Scoped(p.Spans, visible)).ToList());
            }
            else
            {
                using var reduced = Model.EncodeImages(pixels, inputs.ImageSizes!, reducer, out var spans, inputs.TokenIds);
                sequence = ImageFeatureSplicer.Splice(inputs.TokenIds, imageToken, reduced.Features, embed, reduced.Report,
                                                      spans.Select(s => Scoped(s, visible)).ToList());
            }
        }
        sequence.Embeddings.MoveToOuterDisposeScope();
        sequence.PositionIds.MoveToOuterDisposeScope();
        return new VisionStageOutput(sequence, clock.Elapsed.TotalMilliseconds, fromTower);
    }

    /// <summary>The spans pruning may see under <paramref name="scope"/>.</summary>
    static IReadOnlyList<VisualSpan> Scoped(IReadOnlyList<VisualSpan> spans, AnyresPruningScope scope) => scope == AnyresPruningScope.WholeImage
        ? spans
        : spans.Where(s => s.Origin is { Crop: 0, MapRow: < 0 }).ToList();

    public PrefillResult Prefill(MultimodalSequence sequence, KvCache cache, IPrefillPruner? pruner = null, PositionPolicy? policy = null)
    {
        using var _ = no_grad();
        return DecoderRunner.Prefill(Model.LanguageModel, sequence, cache, pruner, Profile.Resolve(policy));
    }

    /// <summary>The answer text: special and unknown ids skipped, trimmed.</summary>
    public string DecodeText(IEnumerable<int> tokenIds) =>
        Tokenizer.Decode(tokenIds.Where(id => Tokenizer.IdToToken(id) != null)).Trim();

    public void Dispose() => Model.Dispose();
}
