using PioFvlm.Models.Configs;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// The Qwen2.5-VL vision tower with its merger (HF Qwen2_5_VisionTransformerPretrainedModel, key prefix
/// <c>visual.</c>): patch embedding, reorder into attention windows, blocks with window attention except at
/// <c>fullatt_block_indexes</c>, the 2 × 2 merger, and the inverse reorder (spec A6). No CLS token.
/// </summary>
public sealed class Qwen25VlVisionTransformer : nn.Module
{
    [ComponentName(Name = "patch_embed")] private readonly Qwen25VlPatchEmbed _patchEmbed;
    [ComponentName(Name = "blocks")] private readonly ModuleList<Qwen25VlVisionBlock> _blocks;
    [ComponentName(Name = "merger")] private readonly Qwen25VlPatchMerger _merger;

    public Qwen25VlVisionConfig Config { get; }
    public int WindowMerged => Config.WindowSize / Config.SpatialMergeSize / Config.PatchSize;
    public int MergeUnit => Config.SpatialMergeSize * Config.SpatialMergeSize;
    public int Depth => _blocks.Count;

    public Qwen25VlVisionTransformer(string name, Qwen25VlVisionConfig config, Device? device = null) : base(name)
    {
        Config = config;
        _patchEmbed = new Qwen25VlPatchEmbed("patch_embed", config.HiddenSize, config.InChannels, config.TemporalPatchSize, config.PatchSize, device);
        _blocks = new ModuleList<Qwen25VlVisionBlock>();
        for (int i = 0; i < config.Depth; i++)
            _blocks.Add(new Qwen25VlVisionBlock(i.ToString(System.Globalization.CultureInfo.InvariantCulture),
                config.HiddenSize, config.NumHeads, config.IntermediateSize, device));
        _merger = new Qwen25VlPatchMerger("merger", config.HiddenSize, config.OutHiddenSize, MergeUnit, device);
        RegisterComponents();
    }

    /// <summary>The attention layout of <paramref name="grids"/>.</summary>
    public Qwen25VlWindowLayout Layout(IReadOnlyList<Qwen25VlGrid> grids) => new(grids, Config.SpatialMergeSize, WindowMerged);

    /// <summary>
    /// pixel_values [Np, C·T·P·P] (merge-block order) → merged tokens [Np / 4, out_hidden] in each image's row-major
    /// merged order, images concatenated. <paramref name="trace"/>, when given, receives (name, tensor) pairs named as
    /// the HF fixtures (vision_patch_embed, vision_block_output_i in window order, vision_merger_output_window_order).
    /// </summary>
    public Tensor Forward(Tensor pixelValues, IReadOnlyList<Qwen25VlGrid> grids, Action<string, Tensor>? trace = null) =>
        Forward(pixelValues, grids, [], out _, trace);

    /// <summary>
    /// <see cref="Forward(Tensor, IReadOnlyList{Qwen25VlGrid}, Action{string, Tensor})"/>, plus, for each full-attention
    /// block of <paramref name="receivedAttentionBlocks"/> (0-based), a side computation on that block's own q and k:
    /// per head the attention each patch receives in its image, averaged over the image's query rows, then over the
    /// patches of each merged token: <paramref name="receivedAttention"/>[block] = [heads, Σ tokens] float32, in the
    /// same order as the merged tokens (window order undone). The fused attention is untouched.
    /// </summary>
    public Tensor Forward(Tensor pixelValues, IReadOnlyList<Qwen25VlGrid> grids, IReadOnlyCollection<int> receivedAttentionBlocks,
                          out IReadOnlyDictionary<int, Tensor> receivedAttention, Action<string, Tensor>? trace = null)
    {
        var full = new HashSet<int>(Config.FullAttentionBlockIndexes);
        foreach (int b in receivedAttentionBlocks)
            if (!full.Contains(b))
                throw new ArgumentException($"vision block {b}: received attention is computed only in full-attention blocks " +
                                            $"(fullatt_block_indexes [{string.Join(", ", Config.FullAttentionBlockIndexes)}] of {_blocks.Count})");
        var layout = Layout(grids);
        if (pixelValues.shape[0] != layout.Patches)
            throw new ArgumentException($"pixel_values has {pixelValues.shape[0]} patch rows but image_grid_thw [{string.Join("; ", grids)}] describes {layout.Patches}");
        using var _ = NewDisposeScope();
        var x = _patchEmbed.forward(pixelValues);
        trace?.Invoke("vision_patch_embed", x);
        var device = x.device;
        var patchOrder = layout.PatchWindowIndex();
        x = x.index_select(0, tensor(patchOrder, device: device));
        var rope = Qwen25VlVisionRope.For(layout.PatchRows, layout.PatchColumns, _blocks[0].HeadDim, patchOrder, device);
        var received = new Dictionary<int, Tensor>();
        var reverse = tensor(layout.ReverseIndex(), device: device);
        for (int i = 0; i < _blocks.Count; i++)
        {
            if (receivedAttentionBlocks.Contains(i))
            {
                // Window order keeps each merged token's patches contiguous: mean over the unit, then undo the order.
                var perPatch = _blocks[i].ReceivedAttention(x, rope, layout.CuSeqlens);
                received[i] = perPatch.reshape(perPatch.shape[0], -1, MergeUnit).mean([2]).index_select(1, reverse).MoveToOuterDisposeScope();
            }
            x = _blocks[i].forward(x, rope, full.Contains(i) ? layout.CuSeqlens : layout.CuWindowSeqlens);
            trace?.Invoke($"vision_block_output_{i}", x);
        }
        var merged = _merger.forward(x);
        trace?.Invoke("vision_merger_output_window_order", merged);
        receivedAttention = received;
        return merged.index_select(0, reverse).MoveToOuterDisposeScope();
    }
}
