namespace PioFvlm.Core.Generation;

/// <summary>New token ids, their decoded text (special tokens skipped) and the statistics.</summary>
public sealed record GenerationResult(IReadOnlyList<int> TokenIds, string Text, GenerationStats Stats);
