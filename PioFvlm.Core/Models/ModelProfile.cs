using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning.Efficiency;
using PioFvlm.Core.Pruning.Saliency;

namespace PioFvlm.Core.Models;

/// <summary>
/// What the tools need to know about a model family without running it: visual-token arithmetic for an image size,
/// the decoder shape, the schedule presets, the default position policy and saliency settings, and what the vision
/// tower can report. Every family-specific number lives in its profile (PioFvlm.Models), never in Core.
/// </summary>
public sealed record ModelProfile
{
    /// <summary>Short family name ("llava-1.5", "llava-next", "qwen2.5-vl").</summary>
    public required string Family { get; init; }

    /// <summary>One line for listings, e.g. "LLaVA-1.5-7B (Vicuna-7B)".</summary>
    public required string Description { get; init; }

    public required DecoderDims Text { get; init; }

    /// <summary>Visual tokens one image of (width, height) pixels becomes before any reduction.</summary>
    public required Func<int, int, long> VisualTokensForImage { get; init; }

    /// <summary>The count the papers quote for this family (576, 2,880, 1,296): budgets and FLOPs tables use it.</summary>
    public required long NominalVisualTokens { get; init; }

    /// <summary>Named pruning schedules of this family (the reference's and ours).</summary>
    public required IReadOnlyList<SchedulePreset> Presets { get; init; }

    /// <summary>How positions behave after intra-LLM pruning unless a plan says otherwise (Compact for LLaVA,
    /// KeepOriginal for M-RoPE families).</summary>
    public required PositionPolicy DefaultPositions { get; init; }

    /// <summary>Rows of the position ids (1 for 1-D RoPE, 3 for M-RoPE).</summary>
    public int PositionRows { get; init; } = 1;

    /// <summary>PIO-FVLM's probe settings as the reference uses them for this family.</summary>
    public required GradientSaliencyOptions Saliency { get; init; }

    /// <summary>The text that marks one image in a formatted prompt (<c>&lt;image&gt;</c> for LLaVA).</summary>
    public required string ImagePlaceholder { get; init; }

    /// <summary>Images one prompt may carry (the chat client refuses more). 1 unless the family was trained on
    /// several images per conversation.</summary>
    public int MaxImages { get; init; } = 1;

    /// <summary>Whether images are anyres blocks with a base view (LLaVA-NeXT), so that a plan may restrict pruning to
    /// it (<see cref="Pruning.AnyresPruningScope.BaseViewOnly"/>).</summary>
    public bool HasAnyresBaseView { get; init; }

    /// <summary>Whether the vision tower has a CLS token (CLS-attention signals exist).</summary>
    public required bool VisionHasCls { get; init; }

    /// <summary>The preset called <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="KeyNotFoundException">No such preset; the message lists this family's names.</exception>
    public SchedulePreset Preset(string name) =>
        Presets.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new KeyNotFoundException(
            $"unknown schedule preset '{name}' for {Family} (known: {string.Join(", ", Presets.Select(p => p.Name))})");

    /// <summary>Refuses a position policy the family cannot use (Compact re-indexing has no meaning for 3-row M-RoPE ids).</summary>
    public PositionPolicy Resolve(PositionPolicy? requested)
    {
        var policy = requested ?? DefaultPositions;
        if (policy == PositionPolicy.Compact && PositionRows > 1)
            throw new NotSupportedException(
                $"{Family}: PositionPolicy.Compact is not defined for {PositionRows}-row (M-RoPE) position ids; use KeepOriginal");
        return policy;
    }
}
