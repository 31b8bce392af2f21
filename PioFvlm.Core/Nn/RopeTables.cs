using static TorchSharp.torch;

namespace PioFvlm.Core.Nn;

/// <summary>
/// cos and sin of the rotary angles for one sequence, each [S, headDim] in the activation dtype
/// (the two halves of the last axis repeat the same angles: rotate-half layout). They belong to the dispose
/// scope they were made in; compute them once per forward and share them across layers.
/// </summary>
public sealed record RopeTables(Tensor Cos, Tensor Sin)
{
    /// <summary>Sequence length the tables cover.</summary>
    public long Length => Cos.shape[0];
}
