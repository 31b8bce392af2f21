using System.Diagnostics;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Models.Llava;
using PioFvlm.Models.Text.Llama;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace PioFvlm.Models.LlavaNext;

/// <summary>
/// LLaVA-NeXT (HF LlavaNextForConditionalGeneration): LLaVA-1.5's CLIP tower, projector and LLaMA/Mistral decoder
/// (the same classes) plus <c>image_newline</c>; every crop of an image goes through the tower and projector, then
/// <see cref="AnyresFeaturePacker"/> arranges them. State-dict keys are LLaVA's HF legacy names plus
/// <c>image_newline</c> (other layouts are renamed on load by <see cref="LlavaKeyMaps"/>).
/// Run it under <c>torch.no_grad()</c>, never inference_mode.
/// </summary>
public sealed class LlavaNextForConditionalGeneration : nn.Module
{
    [ComponentName(Name = "vision_tower")] private readonly ClipVisionTower _visionTower;
    [ComponentName(Name = "multi_modal_projector")] private readonly LlavaProjector _projector;
    [ComponentName(Name = "language_model")] private readonly LlamaForCausalLM _languageModel;
    [ComponentName(Name = "image_newline")] private readonly Parameter _imageNewline;

    public LlavaArchitecture Architecture { get; }
    public AnyresImageProcessor Anyres { get; }
    public ClipVisionTower VisionTower => _visionTower;
    public LlavaProjector Projector => _projector;
    public LlamaForCausalLM LanguageModel => _languageModel;
    public Tensor ImageNewline => _imageNewline;

    /// <param name="architecture">Tower, projector and decoder shapes (the LLaVA-1.5 mapping of the config).</param>
    /// <param name="anyres">The processor whose layout arithmetic the packing follows.</param>
    public LlavaNextForConditionalGeneration(LlavaArchitecture architecture, AnyresImageProcessor anyres, Device? device = null,
                                             ScalarType dtype = ScalarType.Float32)
        : base(nameof(LlavaNextForConditionalGeneration))
    {
        if (architecture.Selection.Strategy != ClipFeatureStrategy.Default)
            throw new NotSupportedException("LLaVA-NeXT packs g×g patch grids: vision_feature_select_strategy must be 'default' (CLS dropped)");
        if (anyres.CropSize != architecture.Vision.ImageSize || anyres.PatchSize != architecture.Vision.PatchSize)
            throw new ArgumentException($"anyres crops of {anyres.CropSize} px with {anyres.PatchSize}-px patches do not fit the vision tower " +
                                        $"({architecture.Vision.ImageSize} px, patch {architecture.Vision.PatchSize})");
        Architecture = architecture;
        Anyres = anyres;
        _visionTower = new ClipVisionTower(architecture.Vision, architecture.Selection, device);
        _projector = new LlavaProjector(architecture.Vision.Hidden * architecture.Selection.Layers.Count, architecture.Text.HiddenSize,
                                        architecture.ProjectorBias, device);
        _languageModel = new LlamaForCausalLM("language_model", architecture.Text, device, dtype);
        _imageNewline = new Parameter(zeros(architecture.Text.HiddenSize, device: device), requires_grad: false);
        RegisterComponents();
        if (dtype != ScalarType.Float32) this.to(dtype);
    }

    /// <summary>The layout of each image from image_sizes [n, 2] (height, width).</summary>
    public IReadOnlyList<AnyresLayout> Layouts(Tensor imageSizes)
    {
        if (imageSizes.dim() != 2 || imageSizes.shape[1] != 2)
            throw new ArgumentException($"image_sizes must be [n, 2] (height, width), got [{string.Join(", ", imageSizes.shape)}]");
        var hw = imageSizes.to(ScalarType.Int64).cpu().data<long>().ToArray();
        return Enumerable.Range(0, (int)imageSizes.shape[0]).Select(i => Anyres.Layout(checked((int)hw[2 * i + 1]), checked((int)hw[2 * i]))).ToList();
    }

    /// <summary>The real crops of every image, batched [Σ crops, 3, S, S] (HF's zero padding crops sliced off).</summary>
    public Tensor RealCrops(Tensor pixelValues, IReadOnlyList<AnyresLayout> layouts)
    {
        int size = Architecture.Vision.ImageSize;
        if (pixelValues.dim() != 5 || pixelValues.shape[0] != layouts.Count || pixelValues.shape[2] != 3 ||
            pixelValues.shape[3] != size || pixelValues.shape[4] != size)
            throw new ArgumentException($"pixel_values must be [{layouts.Count}, crops, 3, {size}, {size}] for this LLaVA-NeXT model, " +
                                        $"got [{string.Join(", ", pixelValues.shape)}]");
        for (int i = 0; i < layouts.Count; i++)
            if (pixelValues.shape[1] < layouts[i].Crops)
                throw new ArgumentException($"image {i}: its size needs {layouts[i].Crops} crops (grid {layouts[i].Rows}×{layouts[i].Columns} + base) " +
                                            $"but pixel_values has {pixelValues.shape[1]}");
        var w = _projector.parameters().First();
        return cat(layouts.Select((l, i) => pixelValues[i].narrow(0, 0, l.Crops)).ToArray(), 0).to(w.dtype, w.device);
    }

    /// <summary>Projected features of every crop [Σ crops, g², H_text].</summary>
    public Tensor EncodeCrops(Tensor crops)
    {
        using var _ = NewDisposeScope();
        return _projector.forward(_visionTower.forward(crops)).MoveToOuterDisposeScope();
    }

    /// <summary>Tower + projector + pack_image_features: one packed block per image (features owned by the caller).</summary>
    public IReadOnlyList<PackedImage> EncodeImages(Tensor pixelValues, Tensor imageSizes)
    {
        var layouts = Layouts(imageSizes);
        using var scope = NewDisposeScope();
        var features = EncodeCrops(RealCrops(pixelValues, layouts));
        var packed = new List<PackedImage>(layouts.Count);
        int first = 0;
        for (int i = 0; i < layouts.Count; i++)
        {
            var image = AnyresFeaturePacker.Pack(features.narrow(0, first, layouts[i].Crops), layouts[i], _imageNewline, i);
            image.Features.MoveToOuterDisposeScope();
            packed.Add(image);
            first += layouts[i].Crops;
        }
        return packed;
    }

    /// <summary>
    /// The pre-LLM insertion point. A reducer that reads encoder signals (VScan, VisionZip, HoloV, SCOPE) runs on each
    /// S-px crop on its own, as those methods' NeXT code does (an absolute budget is per crop); its kept tokens enter
    /// crop by crop (base view first, one span per crop, no unpadding and no newlines, since a reduced crop is no
    /// longer a grid). A reducer that reads no signals (DivPrune) runs once over the packed image's visual tokens
    /// (newlines excluded) as DivPrune's NeXT code does; when it keeps original tokens in order, the packed layout is
    /// kept, with the newline of every row that keeps a token. Kept indices are reported per image: crop-major
    /// indices c·g² + t for per-crop reducers, packed visual-token indices for whole-image ones.
    /// </summary>
    public PreLlmStageResult EncodeImages(Tensor pixelValues, Tensor imageSizes, IPreLlmReducer reducer,
                                          out IReadOnlyList<IReadOnlyList<VisualSpan>> spans, IReadOnlyList<int>? promptIds = null)
    {
        var layouts = Layouts(imageSizes);
        using var scope = NewDisposeScope();
        var request = reducer.SignalsFor(_visionTower.Dims.Layers);
        var (projected, signals) = LlavaVisionSignals.Compute(_visionTower, _projector, RealCrops(pixelValues, layouts), request);
        Tensor? instruction = request.InstructionEmbeddings
            ? LlavaForConditionalGeneration.InstructionEmbeddings(promptIds ?? throw new ArgumentException(
                  $"{reducer.GetType().Name} needs the instruction's embeddings, but no prompt ids were given to EncodeImages", nameof(promptIds)),
                  Architecture.ImageTokenId, _languageModel.Embed, _projector.parameters().First().device)
            : null;
        bool perCrop = RunsPerCrop(request);
        var features = new List<Tensor>(layouts.Count);
        var kept = new List<long[]>(layouts.Count);
        var allSpans = new List<IReadOnlyList<VisualSpan>>(layouts.Count);
        double reductionMs = 0;
        long before = 0;
        int first = 0;
        for (int i = 0; i < layouts.Count; i++)
        {
            var layout = layouts[i];
            int g2 = layout.BaseTokens;
            if (perCrop)
            {
                var pieces = new List<Tensor>();
                var keptHere = new List<long>();
                var spansHere = new List<VisualSpan>();
                long offset = 0;
                for (int c = 0; c < layout.Crops; c++)
                {
                    var input = projected[first + c];
                    var clock = Stopwatch.StartNew();
                    var reduced = reducer.Reduce(new VisionStageContext(first + c, input, signals[first + c], instruction))
                        .Validate(input.shape[0], input.shape[1], reducer.GetType().Name);
                    reductionMs += clock.Elapsed.TotalMilliseconds;
                    pieces.Add(reduced.Features);
                    keptHere.AddRange(reduced.KeptIndices.Select(k => k < 0 ? -1 : (long)c * g2 + k));
                    long n = reduced.Features.shape[0];
                    if (n > 0) spansHere.Add(new VisualSpan(offset, n, i, new AnyresOrigin(c, 0, 0, -1, false)));
                    offset += n;
                }
                features.Add(cat(pieces, 0).MoveToOuterDisposeScope());
                kept.Add(keptHere.ToArray());
                allSpans.Add(spansHere);
                before += (long)layout.Crops * g2;
            }
            else
            {
                var packed = AnyresFeaturePacker.Pack(projected.narrow(0, first, layout.Crops), layout, _imageNewline, i);
                var pool = packed.Spans.SelectMany(s => Enumerable.Range(0, (int)s.Length).Select(k => s.Start + k)).ToArray();
                var visual = packed.Features.index_select(0, tensor(pool, ScalarType.Int64, packed.Features.device));
                var clock = Stopwatch.StartNew();
                var reduced = reducer.Reduce(new VisionStageContext(i, visual, signals[first], instruction))
                    .Validate(visual.shape[0], visual.shape[1], reducer.GetType().Name);
                reductionMs += clock.Elapsed.TotalMilliseconds;
                var (block, blockSpans) = KeepInPackedLayout(packed, pool, reduced, i);
                features.Add(block.MoveToOuterDisposeScope());
                kept.Add(reduced.KeptIndices);
                allSpans.Add(blockSpans);
                before += pool.Length;
            }
            first += layout.Crops;
        }
        spans = allSpans;
        return new PreLlmStageResult(features, kept, before, reductionMs);
    }

    /// <summary>Whether a reducer with this request runs on each crop (it reads encoder signals or the grid shape, which
    /// are per crop: VScan, VisionZip, HoloV, SCOPE, VisPruner, HiPrune, Downsample) or once over the packed image (it
    /// reads neither: DivPrune, CDPruner, whose selections are over the whole token set).</summary>
    public static bool RunsPerCrop(VisionSignalRequest r) =>
        r.ClsAttentionLayers.Count + r.KeyLayers.Count + r.HiddenStates.Count + r.MeanAttentionLayers.Count > 0 || r.Grid;

    /// <summary>A whole-image reduction back in the packed layout when it kept original tokens in ascending order
    /// (newlines of rows with a kept token stay); otherwise its rows as they came, one span, no newlines.</summary>
    static (Tensor Features, IReadOnlyList<VisualSpan> Spans) KeepInPackedLayout(PackedImage packed, long[] pool, PreLlmReduction reduced, int imageIndex)
    {
        var k = reduced.KeptIndices;
        bool ascendingOriginals = k.All(x => x >= 0) && k.Zip(k.Skip(1)).All(p => p.First < p.Second);
        if (!ascendingOriginals)
            return (reduced.Features, k.Length == 0 ? [] : [new VisualSpan(0, k.Length, imageIndex, null)]);
        long length = packed.Features.shape[0];
        var keep = SequenceCut.KeepMask(length, packed.Spans, pool, k);
        var rows = Enumerable.Range(0, (int)length).Where(p => keep[p]).Select(p => (long)p).ToArray();
        var features = packed.Features.index_select(0, tensor(rows, ScalarType.Int64, packed.Features.device));
        // The kept visual rows are the reducer's own outputs (a selection method returns the originals unchanged).
        var visualRows = rows.Select((p, j) => (p, j)).Where(x => Array.BinarySearch(pool, x.p) >= 0).Select(x => (long)x.j).ToArray();
        features.index_copy_(0, tensor(visualRows, ScalarType.Int64, features.device), reduced.Features.to(features.dtype));
        return (features, SequenceCut.ShrinkSpans(packed.Spans, keep));
    }
}
