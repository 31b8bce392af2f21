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

    /// <summary>
    /// The prompt image's size in pixels (width, height), which decides the visual-token count where the family's
    /// processor depends on it; null = the family's measurement default (LLaVA-NeXT 672 × 672: 2,928 positions;
    /// Qwen2.5-VL 1008 × 1008: 1,296 tokens). LLaVA-1.5's processor resizes every image to the tower's square (576
    /// tokens), so its prompts ignore the size.
    /// </summary>
    public (int Width, int Height)? ImageSize { get; init; }
}

/// <summary>
/// A model with random weights built in memory from a config (nothing loaded, no tokenizer files: text cannot be
/// encoded, ids can), its parameter count, and synthetic prompts in the family's own layout.
/// </summary>
/// <param name="Model">The model, frozen (eval mode, no weight gradients).</param>
/// <param name="Parameters">Number of weights.</param>
/// <param name="Prompt">Inputs of (text tokens, seed): random text ids and one random image (standard normal pixels of
/// <see cref="RandomModelOptions.ImageSize"/> in the family's layout, with its image_sizes / image_grid_thw), the image
/// after the first 4 text ids (as "USER: &lt;image&gt;\n..." lays it out), the ids as the family's own Prepare makes
/// them. Pixels come from torch's global generator, text ids from <c>new Random(seed)</c>.</param>
public sealed record RandomModel(IVisionLanguageModel Model, long Parameters, Func<int, int, VlmInputs> Prompt) : IDisposable
{
    public void Dispose() => Model.Dispose();
}
