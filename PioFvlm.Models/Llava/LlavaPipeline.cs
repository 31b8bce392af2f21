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
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Models.Llava;

/// <summary>
/// A loaded LLaVA-1.5 model with its tokenizer and image processor: the library's user-facing object.
/// <para>
/// Research use: <see cref="Prepare"/>, then <see cref="Prefill"/> and <see cref="DecoderRunner.Step"/> on a cache from
/// <see cref="NewCache"/>. User use: <see cref="VlmGeneration.Generate(IVisionLanguageModel, RgbImage, string, GenerationOptions?, PruningPlan?)"/>.
/// Tools load it through <see cref="VlmLoader"/> and see it as an <see cref="IVisionLanguageModel"/>.
/// </para>
/// <para>
/// Threads: weights are read-only after loading and every call allocates its own KV cache; dispose scopes and grad
/// mode are thread-local. So several threads may generate at once with one pipeline, provided nobody changes
/// the decoder's attention kernel (<c>Kernel</c>) meanwhile. libtorch's intra-op threads are shared by all of them.
/// </para>
/// </summary>
public sealed class LlavaPipeline : IVisionLanguageModel
{
    public LlavaFamilyConfig Config { get; }
    public LlavaForConditionalGeneration Model { get; }
    public ITokenizer Tokenizer { get; }
    public ClipImageProcessor Processor { get; }
    public LlavaPromptEncoder Prompts { get; }
    public ScalarType DType { get; }
    public Device Device { get; }
    public ModelProfile Profile { get; }
    public IDecoderStack Decoder => Model.LanguageModel;
    public IReadOnlySet<int> EosIds { get; }

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
        Profile = Llava15Profile.For(model.Architecture);
        EosIds = config.Text.EosTokenIds.Append(tokenizer.EosId).ToHashSet();
    }

    /// <summary>
    /// Loads config.json, the weights (HF legacy or modern names, or the research layout with
    /// <see cref="LoadOptions.VisionTowerPath"/>), the tokenizer and the image processor from a model folder. Strict:
    /// every missing, unexpected or mis-shaped tensor is listed in one error. Without tokenizer files and with
    /// <see cref="LoadOptions.RequireTokenizer"/> off, the tokenizer is a <see cref="MissingTokenizer"/> (ids only);
    /// without preprocessor_config.json the processor follows the tower's config (<see cref="PreprocessorConfig"/>).
    /// </summary>
    public static LlavaPipeline FromPretrained(string modelDirectory, LoadOptions? options = null)
    {
        options ??= new LoadOptions();
        var (config, processorDirectory) = LlavaCheckpointFolder.ReadConfig<LlavaConfig>(modelDirectory, options, "LLaVA-1.5");
        bool research = config.Layout == LlavaLayout.Research;

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
            var tokenizer = LlavaCheckpointFolder.Tokenizer(modelDirectory, options, config);
            var processor = new ClipImageProcessor(PreprocessorConfig.Load(processorDirectory, config));
            return new LlavaPipeline(config, model, tokenizer, processor);
        }
        catch
        {
            model.Dispose();   // a failed load must not keep gigabytes of native weights alive until finalisation
            throw;
        }
    }


    /// <summary>The stand-in tokenizer of a folder without tokenizer files: special ids and vocabulary size from the config.</summary>
    public static MissingTokenizer MissingTokenizerFor(string folder, LlavaFamilyConfig config) =>
        new(folder, config.Text.BosTokenId ?? 1, config.Text.EosTokenIds[0], config.PadTokenId, config.Text.VocabSize);

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
    public VlmInputs Prepare(string prompt, IReadOnlyList<RgbImage> images, int maxNewTokens = 0)
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
        return new VlmInputs(encoded.InputIds, pixels, images.Count);
    }

    /// <summary>A KV cache for one sequence of up to <paramref name="capacity"/> positions.</summary>
    public KvCache NewCache(long capacity) => KvCache.For(Model.Architecture.Text, 1, capacity, DType, Device);

    /// <summary>
    /// Vision tower + projector (+ the optional pre-LLM <paramref name="reducer"/>, per image) + splice: the decoder's
    /// input sequence, and the vision time in ms (reducer included). A base-view-only <paramref name="pruningScope"/> is refused
    /// (one 336-px view, no base view).
    /// </summary>
    public VisionStageOutput BuildSequence(VlmInputs inputs, IPreLlmReducer? reducer = null, AnyresPruningScope? pruningScope = null)
    {
        AnyresPruningScopes.CheckSupported(pruningScope, Profile);
        CheckPixelLayout(inputs);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        MultimodalSequence sequence;
        if (reducer is not null && inputs.PixelValues is not null)
        {
            using var reduced = Model.EncodeImages(inputs.PixelValues.to(Device), reducer, inputs.TokenIds);
            sequence = Model.BuildSequence(inputs.TokenIds, reduced);
        }
        else
        {
            var features = inputs.PixelValues is null ? null : Model.EncodeImages(inputs.PixelValues.to(Device));
            sequence = Model.BuildSequence(inputs.TokenIds, features);
        }
        sequence.Embeddings.MoveToOuterDisposeScope();
        sequence.PositionIds.MoveToOuterDisposeScope();
        return new VisionStageOutput(sequence, clock.Elapsed.TotalMilliseconds, (long)inputs.ImageCount * Model.Architecture.TokensPerImage);
    }

    /// <summary>LLaVA-1.5 takes one square crop per image: pixel values [n, 3, S, S] with S the tower's image size.</summary>
    void CheckPixelLayout(VlmInputs inputs)
    {
        if (inputs.PixelValues is not { } p) return;
        int size = Model.Architecture.Vision.ImageSize;
        if (p.dim() != 4 || p.shape[0] != inputs.ImageCount || p.shape[1] != 3 || p.shape[2] != size || p.shape[3] != size)
            throw new ArgumentException(
                $"pixel_values must be [{inputs.ImageCount}, 3, {size}, {size}] for this LLaVA-1.5 model, got [{string.Join(", ", p.shape)}]");
    }

    /// <summary>Prefill of a built sequence into <paramref name="cache"/>, with an optional intra-LLM pruner.</summary>
    public PrefillResult Prefill(MultimodalSequence sequence, KvCache cache, IPrefillPruner? pruner = null, PositionPolicy? policy = null)
    {
        using var _ = no_grad();
        return DecoderRunner.Prefill(Model.LanguageModel, sequence, cache, pruner, Profile.Resolve(policy));
    }

    /// <summary>
    /// The answer text: special tokens skipped, and so are ids the tokenizer does not know (HF LLaVA pads the LM head to
    /// 32064 rows, 62 past the tokenizer's 32002; HF's decode drops them too), then trimmed as the research code does.
    /// </summary>
    public string DecodeText(IEnumerable<int> tokenIds) =>
        Tokenizer.Decode(tokenIds.Where(id => Tokenizer.IdToToken(id) != null)).Trim();

    public void Dispose() => Model.Dispose();
}
