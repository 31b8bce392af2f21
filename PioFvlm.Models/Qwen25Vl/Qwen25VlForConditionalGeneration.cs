using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;
using PioFvlm.Models.Text.Qwen2;
using PioFvlm.Models.Text.Llama;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// Qwen2.5-VL (HF Qwen2_5_VLForConditionalGeneration). State-dict keys: <c>visual.*</c> (the Hub's own names) and
/// <c>language_model.model.*</c> / <c>language_model.lm_head.weight</c> for the Qwen2 decoder (the Hub's
/// <c>model.*</c> / <c>lm_head.weight</c>, renamed on load by <see cref="Qwen25VlKeyMaps"/>).
/// Run it under <c>torch.no_grad()</c>.
/// </summary>
public sealed class Qwen25VlForConditionalGeneration : nn.Module
{
    [ComponentName(Name = "visual")] private readonly Qwen25VlVisionTransformer _visual;
    [ComponentName(Name = "language_model")] private readonly LlamaForCausalLM _languageModel;

    public Qwen25VlConfig Config { get; }
    public Qwen25VlVisionTransformer Visual => _visual;
    public LlamaForCausalLM LanguageModel => _languageModel;
    public int Merge => Config.Vision.SpatialMergeSize;

    public Qwen25VlForConditionalGeneration(Qwen25VlConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32)
        : base(nameof(Qwen25VlForConditionalGeneration))
    {
        Config = config;
        _visual = new Qwen25VlVisionTransformer("visual", config.Vision, device);
        // The decoder is created in its dtype directly: a 7B decoder made in fp32 first would need twice the memory.
        _languageModel = Qwen2Decoder.Create("language_model", config.Text, device, dtype);
        RegisterComponents();
        if (dtype != ScalarType.Float32) _visual.to(dtype);
    }

    /// <summary>pixel_values [Np, 1176] + grids → merged image tokens [Σ tokens, hidden] in prompt order.</summary>
    public Tensor EncodeImages(Tensor pixelValues, IReadOnlyList<Qwen25VlGrid> grids, Action<string, Tensor>? trace = null) =>
        _visual.Forward(pixelValues, grids, trace);

    /// <summary>
    /// The decoder input: embedded prompt ids (every image expanded to its tokens) with the image rows replaced by
    /// <paramref name="imageFeatures"/> (one block per image; fewer rows than the image's tokens when a pre-LLM reducer
    /// kept <paramref name="kept"/>[i] of them), and the 3-row M-RoPE positions of the UNREDUCED prompt gathered for
    /// the rows that remain, so kept tokens keep their original (t, h, w).
    /// </summary>
    public MultimodalSequence BuildSequence(IReadOnlyList<int> expandedIds, IReadOnlyList<Qwen25VlGrid> grids,
                                            IReadOnlyList<Tensor> imageFeatures, IReadOnlyList<long[]>? kept = null,
                                            PreLlmStageReport? preLlm = null)
    {
        int imageToken = Config.ImageTokenId;
        var (rows, _) = Qwen25VlRopeIndex.Compute(expandedIds, imageToken, grids, Merge);
        var keepColumn = new List<int>(expandedIds.Count);
        int image = 0;
        for (int i = 0; i < expandedIds.Count;)
        {
            if (expandedIds[i] != imageToken) { keepColumn.Add(i++); continue; }
            int tokens = (int)grids[image].Tokens(Merge);
            if (kept is null)
                keepColumn.AddRange(Enumerable.Range(i, tokens));
            else
            {
                foreach (long k in kept[image])
                {
                    if (k < 0 || k >= tokens)
                        throw new NotSupportedException(
                            $"image {image}: the pre-LLM reducer returned row index {k}; Qwen2.5-VL needs every reduced row to stand for " +
                            $"one of the image's {tokens} tokens (its M-RoPE position is that token's), and has no CLS token");
                    keepColumn.Add(i + (int)k);
                }
            }
            i += tokens;
            image++;
        }
        var ids = keepColumn.Select(c => expandedIds[c]).ToList();
        using var scope = NewDisposeScope();
        using var spliced = ImageFeatureSplicer.Splice(ids, imageToken, imageFeatures, _languageModel.Embed, preLlm);
        var positions = tensor(rows.SelectMany(r => keepColumn.Select(c => r[c])).ToArray(), [3, keepColumn.Count]);
        var embeddings = spliced.Embeddings.alias();
        return new MultimodalSequence(embeddings.MoveToOuterDisposeScope(), positions.to(embeddings.device).MoveToOuterDisposeScope(),
            spliced.VisualSpans, spliced.TokenIds, spliced.PreLlm)
        {
            NextPosition = rows[0].Length == 0 ? 0 : rows.Max(r => r.Max()) + 1,
        };
    }
}
