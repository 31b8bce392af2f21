namespace PioFvlm.Models.Configs;

/// <summary>The Qwen2.5-VL vision transformer and patch merger (HF <c>Qwen2_5_VLVisionConfig</c>). Absent fields
/// take the HF class defaults; beware that the class default <c>hidden_size</c> is 3584 while every released
/// tower writes 1280.</summary>
public sealed record Qwen25VlVisionConfig
{
    public int Depth { get; init; } = 32;
    public int HiddenSize { get; init; } = 3584;
    public int IntermediateSize { get; init; } = 3420;
    public int NumHeads { get; init; } = 16;
    public string HiddenAct { get; init; } = "silu";

    /// <summary><c>patch_size</c> (alias <c>spatial_patch_size</c>).</summary>
    public int PatchSize { get; init; } = 14;

    public int TemporalPatchSize { get; init; } = 2;
    public int SpatialMergeSize { get; init; } = 2;

    /// <summary><c>in_channels</c> (alias <c>in_chans</c>).</summary>
    public int InChannels { get; init; } = 3;

    /// <summary>Attention window side in pixels (112 = 8 patches = 4 merged units).</summary>
    public int WindowSize { get; init; } = 112;

    /// <summary>Blocks that attend over the whole image; the others use windows.</summary>
    public IReadOnlyList<int> FullAttentionBlockIndexes { get; init; } = [7, 15, 23, 31];

    /// <summary>Merger output width; must equal the text hidden size.</summary>
    public int OutHiddenSize { get; init; } = 3584;

    public int TokensPerSecond { get; init; } = 4;

    public int HeadDim => HiddenSize / NumHeads;

    /// <summary>Merger input width: hidden × merge².</summary>
    public int MergedHiddenSize => HiddenSize * SpatialMergeSize * SpatialMergeSize;

    internal static Qwen25VlVisionConfig Parse(ConfigReader r)
    {
        var defaults = new Qwen25VlVisionConfig();
        var patchKey = r.Has("patch_size") ? "patch_size" : "spatial_patch_size";
        var channelsKey = r.Has("in_channels") ? "in_channels" : "in_chans";
        var config = new Qwen25VlVisionConfig
        {
            Depth = r.PositiveInt("depth", defaults.Depth),
            HiddenSize = r.PositiveInt("hidden_size", defaults.HiddenSize),
            IntermediateSize = r.PositiveInt("intermediate_size", defaults.IntermediateSize),
            NumHeads = r.PositiveInt("num_heads", defaults.NumHeads),
            HiddenAct = r.String("hidden_act", defaults.HiddenAct),
            PatchSize = r.PositiveInt(patchKey, defaults.PatchSize),
            TemporalPatchSize = r.PositiveInt("temporal_patch_size", defaults.TemporalPatchSize),
            SpatialMergeSize = r.PositiveInt("spatial_merge_size", defaults.SpatialMergeSize),
            InChannels = r.PositiveInt(channelsKey, defaults.InChannels),
            WindowSize = r.PositiveInt("window_size", defaults.WindowSize),
            FullAttentionBlockIndexes = r.IntList("fullatt_block_indexes", defaults.FullAttentionBlockIndexes),
            OutHiddenSize = r.PositiveInt("out_hidden_size", defaults.OutHiddenSize),
            TokensPerSecond = r.PositiveInt("tokens_per_second", defaults.TokensPerSecond),
        };
        if (config.HiddenSize % config.NumHeads != 0)
            throw r.Error("num_heads", $"hidden_size {config.HiddenSize} is not divisible by num_heads {config.NumHeads}");
        foreach (var index in config.FullAttentionBlockIndexes)
            if (index < 0 || index >= config.Depth)
                throw r.Error("fullatt_block_indexes", $"block {index} is outside 0..{config.Depth - 1}");
        var mergeUnit = config.PatchSize * config.SpatialMergeSize;
        if (config.WindowSize % mergeUnit != 0)
            throw r.Error("window_size", $"{config.WindowSize} pixels is not a whole number of merged units ({mergeUnit} pixels)");
        return config;
    }
}
