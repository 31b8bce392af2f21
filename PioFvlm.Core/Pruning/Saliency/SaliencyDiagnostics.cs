namespace PioFvlm.Core.Pruning.Saliency;

/// <summary>
/// What a saliency call saw, so a caller can fall back (e.g. to feature norms) when the scores cannot order tokens.
/// </summary>
/// <param name="NonFiniteCount">Visual scores that are NaN or ±inf.</param>
/// <param name="AllZero">Every visual score is exactly 0 (and there is at least one): no order at all.</param>
/// <param name="Loss">The proxy loss value (mean −log p_max over the window); NaN when it was not finite.</param>
/// <param name="ProbeLayer">0-based index of the layer the probe ran.</param>
/// <param name="WindowPositions">The supervised sequence positions.</param>
public sealed record SaliencyDiagnostics(long NonFiniteCount, bool AllZero, double Loss, int ProbeLayer, IReadOnlyList<long> WindowPositions)
{
    /// <summary>Finite and not all zero.</summary>
    public bool IsUsable => NonFiniteCount == 0 && !AllZero;
}
