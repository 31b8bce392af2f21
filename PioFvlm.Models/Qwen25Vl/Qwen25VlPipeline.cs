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
using PioFvlm.Models.Text.Qwen2;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// A loaded Qwen2.5-VL model with its tokenizer and image processor, as an <see cref="IVisionLanguageModel"/>.
/// Positions are 3-row M-RoPE ids; after any pruning (intra-LLM or pre-LLM) kept tokens keep their original ids and
/// decoding continues at max(original position ids) + 1, as the unpruned model would (spec A8, pio-fvlm.md §8).
/// Threads: as <see cref="Llava.LlavaPipeline"/>.
/// </summary>
public sealed class Qwen25VlPipeline : IVisionLanguageModel
{
    public Qwen25VlConfig Config { get; }
    public Qwen25VlForConditionalGeneration Model { get; }
    public ITokenizer Tokenizer { get; }

    /// <summary>The image processor; replace it to override min_pixels / max_pixels (<see cref="Qwen25VlProcessorOptions"/>).</summary>
    public Qwen25VlImageProcessor Processor { get; set; }

    public ScalarType DType { get; }
    public Device Device { get; }
    public ModelProfile Profile { get; }
    public IDecoderStack Decoder => Model.LanguageModel;
    public IReadOnlySet<int> EosIds { get; }

    public Qwen25VlPipeline(Qwen25VlConfig config, Qwen25VlForConditionalGeneration model, ITokenizer tokenizer,
                            Qwen25VlImageProcessor processor, IEnumerable<int>? generationEos = null)
    {
        Config = config;
        Model = model;
        Tokenizer = tokenizer;
        Processor = processor;
        var first = model.parameters().First();
        DType = first.dtype;
        Device = first.device;
        Profile = Qwen25VlProfile.For(config);
        EosIds = config.Text.EosTokenIds.Concat(generationEos ?? []).Append(tokenizer.EosId).ToHashSet();
    }

    /// <summary>Loads config.json, the weights (Hub or module-tree names, sharded or not; strict), tokenizer.json,
    /// preprocessor_config.json and generation_config.json's EOS ids from a model folder.</summary>
    public static Qwen25VlPipeline FromPretrained(string modelDirectory, LoadOptions? options = null)
    {
        options ??= new LoadOptions();
        TorchRuntime.EnsureLoaded();
        if (HfConfigLoader.Load(modelDirectory) is not Qwen25VlConfig config)
            throw new ArgumentException($"{modelDirectory}: config.json is not a Qwen2.5-VL config");
        if (options.CheckMemory)
            MemoryGuard.EnsureWeightsFit(ModelSizeEstimator.Estimate(config), options.DType, Path.GetFileName(Path.GetFullPath(modelDirectory)));
        var model = new Qwen25VlForConditionalGeneration(config, torch.device(options.Device), options.DType);
        try
        {
            using (var source = CheckpointSource.Open(modelDirectory)) StateLoader.Load(model, source, Qwen25VlKeyMaps.Hf);
            foreach (var p in model.parameters()) p.requires_grad = false;
            model.eval();
            model.LanguageModel.Kernel = options.Attention;
            string tokenizerFile = Path.Combine(modelDirectory, "tokenizer.json");
            ITokenizer tokenizer = File.Exists(tokenizerFile) ? Qwen2Tokenizer.FromFile(tokenizerFile)
                : options.RequireTokenizer ? throw new FileNotFoundException($"{modelDirectory}: no tokenizer.json (Qwen2's byte-level BPE)", tokenizerFile)
                : new MissingTokenizer(modelDirectory, null, config.Text.EosTokenIds.FirstOrDefault(config.Text.VocabSize - 1), null, config.Text.VocabSize);
            var processor = new Qwen25VlImageProcessor(Qwen25VlProcessorOptions.Load(modelDirectory));
            return new Qwen25VlPipeline(config, model, tokenizer, processor, GenerationEos(modelDirectory));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>eos_token_id of generation_config.json (an id or a list), empty when the file is absent.</summary>
    static IEnumerable<int> GenerationEos(string directory)
    {
        string path = Path.Combine(directory, "generation_config.json");
        if (!File.Exists(path)) return [];
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(path));
        if (!doc.RootElement.TryGetProperty("eos_token_id", out var eos)) return [];
        return eos.ValueKind == System.Text.Json.JsonValueKind.Array ? eos.EnumerateArray().Select(e => e.GetInt32()).ToList() : [eos.GetInt32()];
    }

    public string FormatPrompt(string question, int imageCount = 1) => Qwen25VlPromptFormat.Chat(question, imageCount);

    /// <summary>Tokenises the prompt (one <c>&lt;|image_pad|&gt;</c> per image), runs the image processor and expands
    /// each image's pad to its token count; pixel_values and image_grid_thw go into the inputs.</summary>
    public VlmInputs Prepare(string prompt, IReadOnlyList<RgbImage> images, int maxNewTokens = 0)
    {
        var ids = Tokenizer.Encode(prompt, addBos: false);
        int pads = ids.Count(id => id == Config.ImageTokenId);
        if (pads != images.Count)
            throw new ArgumentException($"the prompt has {pads} <|image_pad|> token(s) but {images.Count} image(s) were given");
        if (images.Count == 0) return new VlmInputs(ids, null, 0);
        var (pixels, grids) = Processor.Preprocess(images);
        var expanded = Expand(ids, grids);
        if (expanded.Count + maxNewTokens > Config.Text.MaxPositionEmbeddings)
            throw new ArgumentException($"the prompt is {expanded.Count} tokens ({grids.Sum(g => g.Tokens(Model.Merge))} visual, images at " +
                $"{Processor.Options}) plus {maxNewTokens} new tokens, more than max_position_embeddings {Config.Text.MaxPositionEmbeddings}");
        return new VlmInputs(expanded, pixels, images.Count, imageGridThw: Qwen25VlGrid.ToTensor(grids));
    }

    /// <summary>Each single image pad replaced by the image's T·(H/2)·(W/2) pads; already expanded ids pass unchanged.</summary>
    List<int> Expand(IReadOnlyList<int> ids, IReadOnlyList<Qwen25VlGrid> grids)
    {
        int pad = Config.ImageTokenId;
        if (ids.Count(id => id == pad) == grids.Sum(g => g.Tokens(Model.Merge))) return ids.ToList();
        var result = new List<int>(ids.Count);
        int image = 0;
        foreach (var id in ids)
        {
            if (id == pad) result.AddRange(Enumerable.Repeat(pad, (int)grids[image++].Tokens(Model.Merge)));
            else result.Add(id);
        }
        return result;
    }

    public KvCache NewCache(long capacity) => KvCache.For(Model.LanguageModel.Dims, 1, capacity, DType, Device);

    /// <summary>Vision tower and merger, the optional pre-LLM reducer per image, the splice, and 3-row positions. A
    /// base-view-only <paramref name="pruningScope"/> is refused (native resolution, no base view).</summary>
    public VisionStageOutput BuildSequence(VlmInputs inputs, IPreLlmReducer? reducer = null, AnyresPruningScope? pruningScope = null)
    {
        AnyresPruningScopes.CheckSupported(pruningScope, Profile);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        IReadOnlyList<Qwen25VlGrid> grids = [];
        var features = new List<Tensor>();
        List<long[]>? kept = null;
        PreLlmStageReport? report = null;
        if (inputs.PixelValues is { } pixels)
        {
            if (inputs.ImageGridThw is null)
                throw new ArgumentException("Qwen2.5-VL inputs need image_grid_thw beside pixel_values [patches, 1176]");
            var tower = Qwen25VlVisionSignals.Info(Model.Visual.Depth, Model.Visual.Config.FullAttentionBlockIndexes);
            var request = reducer?.SignalsFor(tower);
            IReadOnlyList<int> receivedBlocks = reducer is null ? [] : Qwen25VlVisionSignals.Require(reducer, request!, tower);
            // CDPruner-style reducers condition on the instruction: the prompt's text after its first image pad.
            Tensor? instruction = request is { InstructionEmbeddings: true }
                ? Llava.LlavaForConditionalGeneration.InstructionEmbeddings(inputs.TokenIds, Config.ImageTokenId, Model.LanguageModel.Embed, Device)
                : null;
            grids = Qwen25VlGrid.FromTensor(inputs.ImageGridThw);
            var merged = Model.Visual.Forward(pixels.to(Device), grids, receivedBlocks, out var received);
            long start = 0;
            foreach (var g in grids)
            {
                long n = g.Tokens(Model.Merge);
                features.Add(merged.narrow(0, start, n));
                start += n;
            }
            if (reducer is not null)
            {
                kept = [];
                double reductionMs = 0;
                long before = start;
                long offset = 0;
                for (int i = 0; i < features.Count; i++)
                {
                    long n = features[i].shape[0];
                    var imageReceived = received.ToDictionary(e => e.Key, e => e.Value.narrow(1, offset, n));
                    offset += n;
                    var signals = new Qwen25VlVisionSignals(Model.Visual.Depth, tower.FullAttentionLayers, grids[i].MergedHeight(Model.Merge) * grids[i].T,
                                                            grids[i].MergedWidth(Model.Merge), features[i], imageReceived);
                    var t0 = clock.Elapsed.TotalMilliseconds;
                    var reduced = reducer.Reduce(new VisionStageContext(i, features[i], signals, instruction))
                        .Validate(features[i].shape[0], features[i].shape[1], reducer.GetType().Name);
                    reductionMs += clock.Elapsed.TotalMilliseconds - t0;
                    Qwen25VlVisionSignals.RequireOriginalRows(reducer, i, reduced.KeptIndices);
                    features[i] = reduced.Features;
                    kept.Add(reduced.KeptIndices);
                }
                report = new PreLlmStageReport(kept, before, features.Sum(f => f.shape[0]), reductionMs);
            }
        }
        var ids = grids.Count == 0 ? inputs.TokenIds : Expand(inputs.TokenIds, grids);
        var sequence = Model.BuildSequence(ids, grids, features, kept, report);
        sequence.Embeddings.MoveToOuterDisposeScope();
        sequence.PositionIds.MoveToOuterDisposeScope();
        return new VisionStageOutput(sequence, clock.Elapsed.TotalMilliseconds, grids.Sum(g => g.Tokens(Model.Merge)));
    }

    public PrefillResult Prefill(MultimodalSequence sequence, KvCache cache, IPrefillPruner? pruner = null, PositionPolicy? policy = null)
    {
        using var _ = no_grad();
        return DecoderRunner.Prefill(Model.LanguageModel, sequence, cache, pruner, Profile.Resolve(policy));
    }

    /// <summary>The answer text, special tokens skipped and trimmed; without a tokenizer (test checkpoints), the ids.</summary>
    public string DecodeText(IEnumerable<int> tokenIds) => Tokenizer is MissingTokenizer
        ? string.Join(" ", tokenIds)
        : Tokenizer.Decode(tokenIds.Where(id => Tokenizer.IdToToken(id) != null), skipSpecial: true).Trim();

    public void Dispose() => Model.Dispose();
}
