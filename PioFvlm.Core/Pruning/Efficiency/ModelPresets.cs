using PioFvlm.Core.Nn;

namespace PioFvlm.Core.Pruning.Efficiency;

/// <summary>A decoder shape and its nominal visual token count, for estimates without a config file.</summary>
public sealed record ModelPreset(string Name, string Description, DecoderDims Text, int VisualTokens);

/// <summary>The 7B models of the paper (spec §9 constants, llava.md §2, qwen25vl-torchsharp.md A1).</summary>
public static class ModelPresets
{
    static DecoderDims Vicuna7B => new(HiddenSize: 4096, NumHeads: 32, NumKvHeads: 32, HeadDim: 128, IntermediateSize: 11008,
        NumLayers: 32, RmsNormEps: 1e-5, RopeTheta: 10000, VocabSize: 32064, MaxPositions: 4096,
        TieWordEmbeddings: false, AttentionBias: false);

    static DecoderDims Mistral7B => Vicuna7B with { NumKvHeads = 8, IntermediateSize = 14336, RopeTheta = 1e6, MaxPositions = 32768 };

    static DecoderDims Qwen25Vl7B => new(HiddenSize: 3584, NumHeads: 28, NumKvHeads: 4, HeadDim: 128, IntermediateSize: 18944,
        NumLayers: 28, RmsNormEps: 1e-6, RopeTheta: 1e6, VocabSize: 152064, MaxPositions: 128000,
        TieWordEmbeddings: false, AttentionBias: true);

    public static IReadOnlyList<ModelPreset> All { get; } =
    [
        new("llava-1.5-7b", "LLaVA-1.5-7B (Vicuna-7B), 576 visual tokens", Vicuna7B, 576),
        // The paper's NeXT efficiency row is llava-v1.6-vicuna-7b (bench_prune_speed.py): its 16.67 T and
        // 1156 MB only come out with Vicuna's m = 11008 and 32 KV heads.
        new("llava-next-7b", "LLaVA-NeXT-7B (llava-v1.6-vicuna-7b, as in the paper's table), 2880 nominal visual tokens", Vicuna7B, 2880),
        new("llava-next-mistral-7b", "LLaVA-NeXT-7B (llava-v1.6-mistral-7b: m 14336, 8 KV heads), 2880 nominal visual tokens", Mistral7B, 2880),
        new("qwen2.5-vl-7b", "Qwen2.5-VL-7B, 1296 visual tokens (1008×1008 input)", Qwen25Vl7B, 1296),
    ];

    /// <summary>The preset called <paramref name="name"/> (case-insensitive), or null.</summary>
    public static ModelPreset? Find(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
}
