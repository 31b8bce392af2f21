using PioFvlm.Core.Generation;
using PioFvlm.Core.Models;
using static TorchSharp.torch;

namespace PioFvlm.Models;

/// <summary>How <see cref="VlmFamilies.BuildRandom"/> builds a model with random weights.</summary>
public sealed record RandomModelOptions
{
    public ScalarType DType { get; init; } = ScalarType.BFloat16;
    public string Device { get; init; } = "cpu";

    /// <summary>Seeds torch's global generator before the modules' default initialisation.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// The family's smoke shape: the config's layer counts, vocabulary and visual-token arithmetic with tiny widths, so
    /// every code path of a full-size measurement runs in seconds.
    /// </summary>
    public bool TinyWidths { get; init; }
}

/// <summary>
/// A model with random weights built in memory from a config (nothing loaded, no tokenizer files: text cannot be
/// encoded, ids can), its parameter count, and synthetic prompts in the family's own layout.
/// </summary>
/// <param name="Model">The model, frozen (eval mode, no weight gradients).</param>
/// <param name="Parameters">Number of weights.</param>
/// <param name="Prompt">Inputs of (text tokens, seed): BOS, random text ids and one random image in the family's pixel
/// layout, with the image after the first 4 text ids (as "USER: &lt;image&gt;\n..." lays it out). Pixels come from torch's
/// global generator, text ids from <c>new Random(seed)</c>.</param>
public sealed record RandomModel(IVisionLanguageModel Model, long Parameters, Func<int, int, VlmInputs> Prompt) : IDisposable
{
    public void Dispose() => Model.Dispose();
}
