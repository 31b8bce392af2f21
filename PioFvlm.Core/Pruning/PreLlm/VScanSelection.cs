namespace PioFvlm.Core.Pruning.PreLlm;

/// <summary>Which patches <see cref="VScanEncoderStage"/> keeps for one image.</summary>
/// <param name="Local">The shallow-layer window picks, window by window (raster order of windows), each window's picks
/// by descending score (the CLS-free rule: in the order accepted, descending score).</param>
/// <param name="Global">The deep-layer picks among the rest, by descending score.</param>
/// <param name="Kept">The union, ascending (raster order).</param>
public sealed record VScanSelection(long[] Local, long[] Global, long[] Kept);
