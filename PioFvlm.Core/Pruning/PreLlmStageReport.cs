namespace PioFvlm.Core.Pruning;

/// <summary>What the pre-LLM reducer did to one prompt's images (no tensors: safe to keep after the prefill).</summary>
/// <param name="KeptIndices">Per image, in prompt order, see <see cref="PreLlmReduction.KeptIndices"/>.</param>
/// <param name="TokensBefore">Visual tokens all images had before the reducer.</param>
/// <param name="TokensAfter">Visual tokens all images have after it.</param>
/// <param name="ReductionMs">Time inside <see cref="IPreLlmReducer.Reduce"/>, all images (the tower pass is not part of it).</param>
public sealed record PreLlmStageReport(IReadOnlyList<long[]> KeptIndices, long TokensBefore, long TokensAfter, double ReductionMs);
