using System.Diagnostics;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Models.Text.Llama;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace PioFvlm.Models.Llava;

/// <summary>
/// LLaVA-1.5 (HF LlavaForConditionalGeneration). Child names follow the HF "legacy" on-disk layout, so the state-dict
/// keys are <c>vision_tower.vision_model.*</c>, <c>multi_modal_projector.*</c>, <c>language_model.model.*</c> and
/// <c>language_model.lm_head.weight</c>; other layouts are renamed on load (<see cref="LlavaKeyMaps"/>).
/// Run it under <c>torch.no_grad()</c> (never inference_mode: the pruning engine needs autograd on tensors made here).
/// </summary>
public sealed class LlavaForConditionalGeneration : nn.Module
{
    [ComponentName(Name = "vision_tower")] private readonly ClipVisionTower _visionTower;
    [ComponentName(Name = "multi_modal_projector")] private readonly LlavaProjector _projector;
    [ComponentName(Name = "language_model")] private readonly LlamaForCausalLM _languageModel;

    public LlavaArchitecture Architecture { get; }
    public ClipVisionTower VisionTower => _visionTower;
    public LlavaProjector Projector => _projector;
    public LlamaForCausalLM LanguageModel => _languageModel;

    public LlavaForConditionalGeneration(LlavaArchitecture architecture, Device? device = null, ScalarType dtype = ScalarType.Float32)
        : base(nameof(LlavaForConditionalGeneration))
    {
        Architecture = architecture;
        _visionTower = new ClipVisionTower(architecture.Vision, architecture.Selection, device);
        int projectorIn = architecture.Vision.Hidden * architecture.Selection.Layers.Count;
        _projector = new LlavaProjector(projectorIn, architecture.Text.HiddenSize, architecture.ProjectorBias, device);
        _languageModel = new LlamaForCausalLM("language_model", architecture.Text, device, dtype);
        RegisterComponents();
        if (dtype != ScalarType.Float32) this.to(dtype);
    }

    /// <summary>Pixel values [n, 3, S, S] → projected image features [n, tokens, hidden] in the decoder's dtype.</summary>
    public Tensor EncodeImages(Tensor pixelValues)
    {
        using var _ = NewDisposeScope();
        var w = _projector.parameters().First();
        var features = _visionTower.forward(pixelValues.to(w.dtype, w.device));
        return _projector.forward(features).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The pre-LLM insertion point: one tower pass (with the signals <paramref name="reducer"/> asks for), the
    /// projector, then <see cref="IPreLlmReducer.Reduce"/> per image. Returns per-image reduced features, owned by the
    /// result; the time inside the reducer is measured apart. A reducer that asks for the instruction
    /// (<see cref="VisionSignalRequest.InstructionEmbeddings"/>) needs <paramref name="promptIds"/>.
    /// </summary>
    public PreLlmStageResult EncodeImages(Tensor pixelValues, IPreLlmReducer reducer, IReadOnlyList<int>? promptIds = null)
    {
        using var _ = NewDisposeScope();
        var w = _projector.parameters().First();
        var request = reducer.SignalsFor(_visionTower.Dims.Layers);
        var (projected, signals) = LlavaVisionSignals.Compute(_visionTower, _projector, pixelValues.to(w.dtype, w.device), request);
        Tensor? instruction = null;
        if (request.InstructionEmbeddings)
            instruction = InstructionEmbeddings(promptIds ?? throw new ArgumentException(
                $"{reducer.GetType().Name} needs the instruction's embeddings, but no prompt ids were given to EncodeImages", nameof(promptIds)));
        var features = new List<Tensor>(signals.Count);
        var kept = new List<long[]>(signals.Count);
        double reductionMs = 0;
        for (int i = 0; i < signals.Count; i++)
        {
            var input = projected[i];
            var clock = Stopwatch.StartNew();
            var reduced = reducer.Reduce(new VisionStageContext(i, input, signals[i], instruction))
                .Validate(input.shape[0], input.shape[1], reducer.GetType().Name);
            reductionMs += clock.Elapsed.TotalMilliseconds;
            features.Add(reduced.Features.MoveToOuterDisposeScope());
            kept.Add(reduced.KeptIndices);
        }
        return new PreLlmStageResult(features, kept, projected.shape[0] * projected.shape[1], reductionMs);
    }

    /// <summary>
    /// The LLM input embeddings [M, hidden] of the instruction: the prompt's tokens after its first image placeholder,
    /// placeholders excluded (the system preamble before the image is not part of it). Throws when there is none.
    /// </summary>
    public Tensor InstructionEmbeddings(IReadOnlyList<int> promptIds) =>
        InstructionEmbeddings(promptIds, Architecture.ImageTokenId, _languageModel.Embed, _projector.parameters().First().device);

    /// <summary>The same for any LLaVA-family model: <paramref name="embed"/> maps ids [1, M] or [M] to embeddings.</summary>
    public static Tensor InstructionEmbeddings(IReadOnlyList<int> promptIds, int imageTokenId, Func<Tensor, Tensor> embed, Device device)
    {
        int first = promptIds.ToList().IndexOf(imageTokenId);
        var ids = promptIds.Skip(first + 1).Where(id => id != imageTokenId).Select(id => (long)id).ToArray();
        if (ids.Length == 0)
            throw new ArgumentException($"the prompt ({promptIds.Count} tokens) has no text after its first image placeholder " +
                                        $"(id {imageTokenId}): an instruction-conditioned reducer needs an instruction");
        using var _ = NewDisposeScope();
        return embed(tensor(ids, ScalarType.Int64, device)).MoveToOuterDisposeScope();
    }

    /// <summary>Splices one [tokens_i, hidden] block per image into the embedded prompt (see <see cref="ImageFeatureSplicer"/>).</summary>
    public MultimodalSequence BuildSequence(IReadOnlyList<int> promptIds, IReadOnlyList<Tensor> imageFeatures) =>
        ImageFeatureSplicer.Splice(promptIds, Architecture.ImageTokenId, imageFeatures, _languageModel.Embed);

    /// <summary>Splices the reduced features of <paramref name="reduced"/> into the embedded prompt; the sequence keeps
    /// its <see cref="PreLlmStageResult.Report"/> (<see cref="MultimodalSequence.PreLlm"/>). The features stay owned by
    /// <paramref name="reduced"/>.</summary>
    public MultimodalSequence BuildSequence(IReadOnlyList<int> promptIds, PreLlmStageResult reduced) =>
        ImageFeatureSplicer.Splice(promptIds, Architecture.ImageTokenId, reduced.Features, _languageModel.Embed, reduced.Report);

    /// <summary>Splices per-image features [n, tokens, hidden] into the embedded prompt (see <see cref="ImageFeatureSplicer"/>).</summary>
    public MultimodalSequence BuildSequence(IReadOnlyList<int> promptIds, Tensor? imageFeatures)
    {
        var blocks = imageFeatures is null ? Array.Empty<Tensor>()
            : Enumerable.Range(0, (int)imageFeatures.shape[0]).Select(i => imageFeatures[i]).ToArray();
        try
        {
            return ImageFeatureSplicer.Splice(promptIds, Architecture.ImageTokenId, blocks, _languageModel.Embed);
        }
        finally
        {
            foreach (var b in blocks) b.Dispose();
        }
    }
}
