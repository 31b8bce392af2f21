using static TorchSharp.torch;

namespace PioFvlm.Core.Nn;

/// <summary>
/// Input of <see cref="Attention"/>: normed hidden [B, S, hidden], RoPE tables for those S positions, and an
/// optional cache (the new K/V are appended to the attention's layer slot and attention covers the whole slot).
/// </summary>
public sealed record AttentionInput(Tensor Hidden, RopeTables Rope, KvCache? Cache = null);
