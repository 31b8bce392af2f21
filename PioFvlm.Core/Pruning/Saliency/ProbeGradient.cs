using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Saliency;

/// <summary>
/// The probe's raw output: G = ∂L/∂X [S, hidden] for every position (probe dtype; the caller owns the tensor), the loss,
/// the supervised positions and their pseudo-labels (argmax of the probe logits, held fixed in the loss).
/// </summary>
public sealed record ProbeGradient(Tensor Gradient, double Loss, int ProbeLayer, IReadOnlyList<long> WindowPositions, IReadOnlyList<long> PseudoLabels);
