using PioFvlm.Core.Nn;
using static TorchSharp.torch;

namespace PioFvlm.Models;

/// <summary>How to load a model from a checkpoint folder.</summary>
public sealed record LoadOptions
{
    /// <summary>Compute and storage dtype of the weights (checkpoint tensors are converted on load).</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;

    /// <summary>"cpu" or "cuda[:n]".</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Research LLaVA-1.5 checkpoints carry no vision tower: the CLIP checkpoint folder to take it from.</summary>
    public string? VisionTowerPath { get; init; }

    /// <summary>SDPA (default) or the eager reference path.</summary>
    public AttentionKernel Attention { get; init; } = AttentionKernel.Sdpa;

    /// <summary>
    /// Fail when the folder has no tokenizer files (default on). Off: such a folder loads with a
    /// <see cref="Core.Text.MissingTokenizer"/>: prompts as token ids, prefill and greedy decoding work, text
    /// encoding and decoding throw naming the folder.
    /// </summary>
    public bool RequireTokenizer { get; init; } = true;

    /// <summary>Refuse to load when the weights would not fit in available memory (default on).</summary>
    public bool CheckMemory { get; init; } = true;
}
