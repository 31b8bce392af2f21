using PioFvlm.Core.Models;
using PioFvlm.Models.Configs;

namespace PioFvlm.Models;

/// <summary>
/// Loads any supported vision-language model from a checkpoint folder: reads config.json, picks the family from
/// <c>model_type</c> / <c>architectures</c>, and hands the folder to that family's loader in <see cref="VlmFamilies"/>.
/// </summary>
public static class VlmLoader
{
    /// <summary>The families this build can run, as "model_type (what it is)".</summary>
    public static IReadOnlyList<string> Implemented { get; } = VlmFamilies.All.Select(f => f.Name).ToList();

    /// <exception cref="FileNotFoundException">No config.json in the folder.</exception>
    /// <exception cref="NotSupportedException">A family that is recognised but not implemented yet; the message names the
    /// implemented ones.</exception>
    public static IVisionLanguageModel FromPretrained(string modelDirectory, LoadOptions? options = null) =>
        VlmFamilies.For(HfConfigLoader.Load(modelDirectory)).Load(modelDirectory, options ?? new LoadOptions());
}
