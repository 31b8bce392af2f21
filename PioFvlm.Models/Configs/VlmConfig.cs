namespace PioFvlm.Models.Configs;

/// <summary>What every parsed model config has in common. Switch on <see cref="Family"/> or pattern-match on the
/// sealed records <see cref="LlavaConfig"/>, <see cref="LlavaNextConfig"/>, <see cref="Qwen25VlConfig"/>.</summary>
public abstract record VlmConfig
{
    public abstract VlmFamily Family { get; }

    /// <summary>The config.json this was read from (for messages).</summary>
    public required string SourcePath { get; init; }

    /// <summary>Top-level <c>model_type</c> as written (may be empty when only <c>architectures</c> was given).</summary>
    public required string ModelType { get; init; }

    public required IReadOnlyList<string> Architectures { get; init; }

    /// <summary>Checkpoint dtype as written: v4 <c>torch_dtype</c> or v5 <c>dtype</c> ("float16", "bfloat16", ...).</summary>
    public string? CheckpointDType { get; init; }
}
