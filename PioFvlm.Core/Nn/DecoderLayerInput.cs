using static TorchSharp.torch;

namespace PioFvlm.Core.Nn;

/// <summary>Input of <see cref="DecoderLayer"/>: residual stream [B, S, hidden], RoPE tables for S positions, optional cache.</summary>
public sealed record DecoderLayerInput(Tensor Hidden, RopeTables Rope, KvCache? Cache = null);

/// <summary>Output of <see cref="DecoderLayer"/>: the residual stream after the layer, [B, S, hidden].</summary>
public sealed record DecoderLayerOutput(Tensor Hidden);
