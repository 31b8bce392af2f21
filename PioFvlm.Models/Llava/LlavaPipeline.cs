using System.Diagnostics;
using PioFvlm.Core.Generation;
using PioFvlm.Core.IO;
using PioFvlm.Core.IO.Loading;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Runtime;
using PioFvlm.Core.Text;
using PioFvlm.Core.Vision;
using PioFvlm.Models.Configs;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Models.Llava;

/// <summary>
/// A loaded LLaVA-1.5 model with its tokenizer and image processor: the library's user-facing object.
/// <para>
/// Research use: <see cref="Prepare"/>, then <see cref="Prefill"/> and <see cref="DecoderRunner.Step"/> on a cache from
/// <see cref="NewCache"/>. User use: <see cref="Generate(RgbImage, string, GenerationOptions?, IPrefillPruner?, IPreLlmReducer?)"/>.
/// </para>
/// <para>
/// Threads: weights are read-only after loading and every call allocates its own KV cache; dispose scopes and grad
/// mode are thread-local. So several threads may generate at once with one pipeline, provided nobody changes
/// <see cref="LlamaForCausalLM.Kernel"/> meanwhile. libtorch's intra-op threads are shared by all of them.
/// </para>
/// </summary>
public sealed class LlavaPipeline : IDisposable
{
    public LlavaFamilyConfig Config { get; }
    public LlavaForConditionalGeneration Model { get; }
    public ITokenizer Tokenizer { get; }
    public ClipImageProcessor Processor { get; }
    public LlavaPromptEncoder Prompts { get; }
    public ScalarType DType { get; }
    public Device Device { get; }

    public LlavaPipeline(LlavaFamilyConfig config, LlavaForConditionalGeneration model, ITokenizer tokenizer, ClipImageProcessor processor)
    {
        Config = config;
        Model = model;
        Tokenizer = tokenizer;
        Processor = processor;
        Prompts = new LlavaPromptEncoder(tokenizer, config.ImageTokenId);
        var first = model.parameters().First();
        DType = first.dtype;
        Device = first.device;
    }

    /// <summary>
    /// Loads config.json, the weights (HF legacy or modern names, or the research layout with
    /// <see cref="LoadOptions.VisionTowerPath"/>), the tokenizer and the image processor from a model folder. Strict:
    /// every missing, unexpected or mis-shaped tensor is listed in one error.
    /// </summary>
    public static LlavaPipeline FromPretrained(string modelDirectory, LoadOptions? options = null)
    {
        options ??= new LoadOptions();
        TorchRuntime.EnsureLoaded();
        var parsed = HfConfigLoader.Load(modelDirectory);
        if (parsed is not LlavaConfig config)
            throw new NotSupportedException($"{parsed.SourcePath}: {parsed.Family} models are not implemented yet (LLaVA-1.5 is)");
        bool research = config.Layout == LlavaLayout.Research;
        string processorDirectory = modelDirectory;
        if (research)
        {
            string tower = options.VisionTowerPath ?? throw new ArgumentException(
                $"{config.SourcePath}: a research LLaVA checkpoint has no vision tower; pass the folder of " +
                $"'{config.VisionTowerName}' as the vision tower path");
            config = (LlavaConfig)config.WithVisionTower(HfConfigLoader.LoadClipVision(tower));
            processorDirectory = tower;
        }
        if (options.CheckMemory)
            MemoryGuard.EnsureWeightsFit(ModelSizeEstimator.Estimate(config), options.DType, Path.GetFileName(Path.GetFullPath(modelDirectory)));

        var device = torch.device(options.Device);
        var model = new LlavaForConditionalGeneration(LlavaArchitecture.From(config), device, options.DType);
        try
        {
            using (var source = research
                       ? new CombinedTensorSource((CheckpointSource.Open(modelDirectory), LlavaKeyMaps.Research),
                                                  (CheckpointSource.Open(options.VisionTowerPath!), LlavaKeyMaps.ClipTower))
                       : new CombinedTensorSource((CheckpointSource.Open(modelDirectory), LlavaKeyMaps.Hf)))
            {
                StateLoader.Load(model, source);
            }
            Freeze(model);
            model.LanguageModel.Kernel = options.Attention;
            var tokenizer = TokenizerLoader.FromFolder(modelDirectory);
            var processor = new ClipImageProcessor(PreprocessorConfig.Load(processorDirectory, config));
            return new LlavaPipeline(config, model, tokenizer, processor);
        }
        catch
        {
            model.Dispose();   // a failed load must not keep gigabytes of native weights alive until finalisation
            throw;
        }
    }

    /// <summary>Weights never need gradients (the pruning probe differentiates activations only).</summary>
    public static void Freeze(LlavaForConditionalGeneration model)
    {
        foreach (var p in model.parameters()) p.requires_grad = false;
        model.eval();
    }

    /// <summary>The conversation template the checkpoint was trained with, around one question and its images.</summary>
    public string FormatPrompt(string question, int imageCount = 1) => Config.Layout == LlavaLayout.Research
        ? LlavaPromptFormat.VicunaV1(question, imageCount)
        : LlavaPromptFormat.HfLlava15Chat(question, imageCount);

    /// <summary>Tokenises a prompt holding one <c>&lt;image&gt;</c> per image and preprocesses the images.</summary>
    public LlavaInputs Prepare(string prompt, IReadOnlyList<RgbImage> images, int maxNewTokens = 0)
    {
        var encoded = Prompts.Encode(prompt);
        if (encoded.ImageCount != images.Count)
            throw new ArgumentException($"the prompt has {encoded.ImageCount} <image> placeholder(s) but {images.Count} image(s) were given");
        long length = encoded.InputIds.Count + (long)images.Count * (Model.Architecture.TokensPerImage - 1);
        int limit = Config.Text.MaxPositionEmbeddings;
        if (length + maxNewTokens > limit)
            throw new ArgumentException(
                $"the prompt is {length} positions ({encoded.InputIds.Count - images.Count} text tokens + {images.Count} × " +
                $"{Model.Architecture.TokensPerImage} visual tokens){(maxNewTokens > 0 ? $" plus {maxNewTokens} new tokens" : "")}, " +
                $"more than the model's max_position_embeddings ({limit}); shorten the prompt or use fewer images");
        var pixels = images.Count == 0 ? null : Processor.Preprocess(images);
        return new LlavaInputs(encoded.InputIds, pixels);
    }

    /// <summary>A KV cache for one sequence of up to <paramref name="capacity"/> positions.</summary>
    public KvCache NewCache(long capacity) => KvCache.For(Model.Architecture.Text, 1, capacity, DType, Device);

    /// <summary>
    /// Vision tower + projector (+ the optional pre-LLM <paramref name="reducer"/>, per image) + splice: the decoder's
    /// input sequence, and the vision time in ms (reducer included).
    /// </summary>
    public (MultimodalSequence Sequence, double VisionMs) BuildSequence(LlavaInputs inputs, IPreLlmReducer? reducer = null)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        MultimodalSequence sequence;
        if (reducer is not null && inputs.PixelValues is not null)
        {
            using var reduced = Model.EncodeImages(inputs.PixelValues.to(Device), reducer);
            sequence = Model.BuildSequence(inputs.TokenIds, reduced);
        }
        else
        {
            var features = inputs.PixelValues is null ? null : Model.EncodeImages(inputs.PixelValues.to(Device));
            sequence = Model.BuildSequence(inputs.TokenIds, features);
        }
        sequence.Embeddings.MoveToOuterDisposeScope();
        sequence.PositionIds.MoveToOuterDisposeScope();
        return (sequence, clock.Elapsed.TotalMilliseconds);
    }

    /// <summary>Prefill of a built sequence into <paramref name="cache"/>, with an optional intra-LLM pruner.</summary>
    public PrefillResult Prefill(MultimodalSequence sequence, KvCache cache, IPrefillPruner? pruner = null,
                                 PositionPolicy policy = PositionPolicy.Compact)
    {
        using var _ = no_grad();
        return DecoderRunner.Prefill(Model.LanguageModel, sequence, cache, pruner, policy);
    }

    /// <summary>Greedy generation for prepared inputs.</summary>
    public GenerationResult Generate(LlavaInputs inputs, GenerationOptions? options = null, IPrefillPruner? pruner = null,
                                     PositionPolicy policy = PositionPolicy.Compact, IPreLlmReducer? preLlm = null)
    {
        options ??= new GenerationOptions();
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var (sequence, visionMs) = BuildSequence(inputs, preLlm);
        using var seq = sequence;
        using var cache = NewCache(seq.Length + options.MaxNewTokens);
        using var prefill = DecoderRunner.Prefill(Model.LanguageModel, seq, cache, pruner, policy);
        long kvBytes = cache.BytesInUse;
        var eos = Config.Text.EosTokenIds.Append(Tokenizer.EosId).ToHashSet();
        var (tokens, decodeMs) = DecoderRunner.Greedy(Model.LanguageModel, prefill, cache, options, eos, Tokenizer);
        var stats = new GenerationStats
        {
            VisualTokensBeforeReduction = (long)inputs.ImageCount * Model.Architecture.TokensPerImage,
            VisualTokensIn = prefill.VisualTokensIn,
            VisualTokensOut = prefill.VisualTokensOut,
            PromptLength = prefill.PromptLength,
            VisionMs = visionMs,
            PrefillMs = prefill.PrefillMs,
            PruningMs = prefill.PruningMs,
            DecodeMs = decodeMs,
            TokensGenerated = tokens.Count,
            KvCacheBytes = kvBytes,
            VisualTokensPerLayer = prefill.VisualTokensPerLayer,
            Stages = prefill.Stages,
            PreLlm = prefill.PreLlm,
        };
        return new GenerationResult(tokens, DecodeText(tokens), stats);
    }

    /// <summary>
    /// The answer text: special tokens skipped, and so are ids the tokenizer does not know (HF LLaVA pads the LM head to
    /// 32064 rows, 62 past the tokenizer's 32002; HF's decode drops them too), then trimmed as the research code does.
    /// </summary>
    public string DecodeText(IEnumerable<int> tokenIds) =>
        Tokenizer.Decode(tokenIds.Where(id => Tokenizer.IdToToken(id) != null)).Trim();

    /// <summary>Greedy generation with a pruning plan (both insertion points and the position policy).</summary>
    public GenerationResult Generate(LlavaInputs inputs, GenerationOptions? options, PruningPlan plan) =>
        Generate(inputs, options, plan.Intra, plan.Positions, plan.PreLlm);

    /// <summary>One call for users: the checkpoint's template around <paramref name="question"/> and one image.</summary>
    public GenerationResult Generate(RgbImage image, string question, GenerationOptions? options = null, IPrefillPruner? pruner = null,
                                     IPreLlmReducer? preLlm = null)
    {
        options ??= new GenerationOptions();
        using var inputs = Prepare(FormatPrompt(question), [image], options.MaxNewTokens);
        return Generate(inputs, options, pruner, preLlm: preLlm);
    }

    public void Dispose() => Model.Dispose();
}
