using PioFvlm.Core.Nn;
using static TorchSharp.torch;

namespace PioFvlm.Models.Text.Llama;

/// <summary>
/// Input of the text decoder: embeddings [B, S, hidden] (token embeddings, possibly with image features spliced
/// in), position ids [R, S] int64 (R = 1 for LLaMA), and an optional cache that the call appends to.
/// </summary>
public sealed record TextModelInput(Tensor Embeddings, Tensor PositionIds, KvCache? Cache = null);
