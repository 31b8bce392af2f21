using PioFvlm.Core.Pruning;

namespace PioFvlm.Core.Generation;

/// <summary>What one generation cost and saw. Times in milliseconds, wall clock.</summary>
public sealed record GenerationStats
{
    /// <summary>Visual tokens the vision tower produced, before any pre-LLM reduction.</summary>
    public long VisualTokensBeforeReduction { get; init; }
    /// <summary>Visual tokens that entered the decoder (after any pre-LLM reduction).</summary>
    public long VisualTokensIn { get; init; }
    /// <summary>Visual tokens that remained after the last pruning stage (equals VisualTokensIn when unpruned).</summary>
    public long VisualTokensOut { get; init; }
    /// <summary>Prompt length in positions, visual tokens included, at the first decoder layer.</summary>
    public long PromptLength { get; init; }
    /// <summary>Vision tower + projector.</summary>
    public double VisionMs { get; init; }
    /// <summary>Decoder layers over the prompt, pruning work included (what the paper calls prefill).</summary>
    public double PrefillMs { get; init; }
    /// <summary>Pruning work alone (a part of PrefillMs).</summary>
    public double PruningMs { get; init; }
    public double DecodeMs { get; init; }
    public int TokensGenerated { get; init; }
    /// <summary>Visual tokens seen by each decoder layer during the prefill (as measured by the prefill loop).</summary>
    public IReadOnlyList<long> VisualTokensPerLayer { get; init; } = [];
    /// <summary>KV cache bytes in use after the prefill.</summary>
    public long KvCacheBytes { get; init; }
    /// <summary>The intra-LLM pruning stages of this generation's prefill, in order (<see cref="PrefillResult.Stages"/>);
    /// empty when unpruned.</summary>
    public IReadOnlyList<PruningStageReport> Stages { get; init; } = [];
    /// <summary>What the pre-LLM reducer did (<see cref="PrefillResult.PreLlm"/>); null when none ran.</summary>
    public PreLlmStageReport? PreLlm { get; init; }

    public double DecodeTokensPerSecond => DecodeMs > 0 && TokensGenerated > 1 ? (TokensGenerated - 1) * 1000.0 / DecodeMs : 0;
}
