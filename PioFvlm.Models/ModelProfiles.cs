using PioFvlm.Core.Models;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;
using PioFvlm.Models.LlavaNext;
using PioFvlm.Models.Qwen25Vl;

namespace PioFvlm.Models;

/// <summary>
/// Family profiles without a checkpoint: the paper's 7B models by name (for <c>estimate</c> and listings), and the
/// profile of any parsed config.json (no weights read).
/// </summary>
public static class ModelProfiles
{
    /// <summary>The 7B models of the paper by name (spec §9 constants, llava.md §2, qwen25vl-torchsharp.md A1).</summary>
    public static IReadOnlyList<(string Name, ModelProfile Profile)> Named { get; } =
    [
        ("llava-1.5-7b", Llava15Profile.Reference7B),
        ("llava-next-7b", LlavaNextProfile.Vicuna7B),
        ("llava-next-mistral-7b", LlavaNextProfile.Mistral7BProfile),
        ("qwen2.5-vl-7b", Qwen25VlProfile.Reference7B),
    ];

    /// <summary>One profile per family, for listings of each family's presets.</summary>
    public static IReadOnlyList<ModelProfile> Families { get; } =
        [Llava15Profile.Reference7B, LlavaNextProfile.Vicuna7B, Qwen25VlProfile.Reference7B];

    /// <summary>The named profile (case-insensitive), or null.</summary>
    public static ModelProfile? Find(string name) =>
        Named.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)).Profile;

    /// <summary>The profile of a parsed config. A LLaVA-1.5 config without a vision section (research layout) needs
    /// <paramref name="visionTower"/>, the tower's own config.</summary>
    /// <exception cref="ArgumentException">A research LLaVA-1.5 config and no tower config.</exception>
    public static ModelProfile For(VlmConfig config, ClipVisionConfig? visionTower = null) => config switch
    {
        LlavaConfig l => Llava15Profile.For(LlavaArchitecture.From(l.Vision is null && visionTower is not null ? l.WithVisionTower(visionTower) : l)),
        LlavaNextConfig n => LlavaNextProfile.For(n),
        Qwen25VlConfig q => Qwen25VlProfile.For(q),
        _ => throw new NotSupportedException($"{config.SourcePath}: no profile for {config.Family} models"),
    };
}
