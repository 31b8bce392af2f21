using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Saliency;

/// <summary>Raw visual scores (float32 [V], sequence order; the caller owns the tensor) and what the call saw.</summary>
public sealed record SaliencyResult(Tensor Scores, SaliencyDiagnostics Diagnostics);
