using Microsoft.Extensions.AI;
using PioFvlm.Core.Generation;

namespace PioFvlm.Core.Chat;

/// <summary>
/// Token accounting of one chat call: input = prompt positions that entered the decoder (visual tokens included, after
/// any pre-LLM reduction), output = generated tokens; <see cref="UsageDetails.AdditionalCounts"/> adds the visual
/// tokens in and out of the LLM's pruning and the prefill time in whole milliseconds.
/// </summary>
public static class ChatUsage
{
    public const string VisualTokensIn = "VisualTokensIn";
    public const string VisualTokensOut = "VisualTokensOut";
    public const string PrefillMs = "PrefillMs";

    public static UsageDetails From(GenerationStats stats) => new()
    {
        InputTokenCount = stats.PromptLength,
        OutputTokenCount = stats.TokensGenerated,
        TotalTokenCount = stats.PromptLength + stats.TokensGenerated,
        AdditionalCounts = new AdditionalPropertiesDictionary<long>
        {
            [VisualTokensIn] = stats.VisualTokensIn,
            [VisualTokensOut] = stats.VisualTokensOut,
            [PrefillMs] = (long)Math.Round(stats.PrefillMs),
        },
    };
}
