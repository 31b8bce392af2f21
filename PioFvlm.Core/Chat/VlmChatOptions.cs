using Microsoft.Extensions.AI;
using PioFvlm.Core.Pruning;

namespace PioFvlm.Core.Chat;

/// <summary>
/// The pruning of one <see cref="VlmChatClient"/> call, carried in <see cref="ChatOptions.AdditionalProperties"/>:
/// either a <see cref="PruningPlan"/> (any method, e.g. from <see cref="PruningConfig.Parse"/>) or the name of one of
/// the family's schedule presets (PIO-FVLM with that schedule, e.g. "pio-11"). A call without either uses the
/// client's default (<see cref="VlmChatClientOptions"/>).
/// </summary>
public static class VlmChatOptions
{
    /// <summary>Key of a <see cref="PruningPlan"/> value.</summary>
    public const string PruningPlanKey = "PioFvlm.PruningPlan";
    /// <summary>Key of a preset name (string).</summary>
    public const string PresetKey = "PioFvlm.Preset";

    /// <summary>Prunes this call with <paramref name="plan"/> (<see cref="PruningPlan.None"/>: unpruned).</summary>
    public static ChatOptions WithPruning(this ChatOptions options, PruningPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        (options.AdditionalProperties ??= new())[PruningPlanKey] = plan;
        options.AdditionalProperties.Remove(PresetKey);
        return options;
    }

    /// <summary>Prunes this call with PIO-FVLM and the family's schedule preset <paramref name="preset"/>.</summary>
    public static ChatOptions WithPreset(this ChatOptions options, string preset)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(preset);
        (options.AdditionalProperties ??= new())[PresetKey] = preset;
        options.AdditionalProperties.Remove(PruningPlanKey);
        return options;
    }

    /// <summary>The plan or preset this call asks for; (null, null) when it asks for neither.</summary>
    /// <exception cref="ArgumentException">A key holds a value of the wrong type.</exception>
    public static (PruningPlan? Plan, string? Preset) PruningOf(ChatOptions? options)
    {
        var props = options?.AdditionalProperties;
        if (props == null) return (null, null);
        PruningPlan? plan = null;
        string? preset = null;
        if (props.TryGetValue(PruningPlanKey, out var p) && p != null)
            plan = p as PruningPlan ?? throw new ArgumentException($"ChatOptions.AdditionalProperties['{PruningPlanKey}'] must be a PruningPlan, got {p.GetType().Name}");
        if (props.TryGetValue(PresetKey, out var s) && s != null)
            preset = s as string ?? throw new ArgumentException($"ChatOptions.AdditionalProperties['{PresetKey}'] must be a preset name (string), got {s.GetType().Name}");
        if (plan != null && preset != null)
            throw new ArgumentException($"ChatOptions asks for both a pruning plan ('{plan.Name}') and a preset ('{preset}'); give one");
        return (plan, preset);
    }
}

/// <summary>Settings of a <see cref="VlmChatClient"/>.</summary>
public sealed record VlmChatClientOptions
{
    /// <summary>The pruning of calls that do not choose their own (default: unpruned).</summary>
    public PruningPlan? Pruning { get; init; }
    /// <summary>Or a schedule preset of the family for those calls (not both).</summary>
    public string? Preset { get; init; }
    /// <summary>Answer length when a call gives no <see cref="ChatOptions.MaxOutputTokens"/>.</summary>
    public int DefaultMaxOutputTokens { get; init; } = 256;
    /// <summary>Reported as the model id (default: the family's description).</summary>
    public string? ModelId { get; init; }
}
