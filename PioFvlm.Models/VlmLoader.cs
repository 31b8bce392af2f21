using PioFvlm.Core.Models;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;

namespace PioFvlm.Models;

/// <summary>
/// Loads any supported vision-language model from a checkpoint folder: reads config.json, picks the family from
/// <c>model_type</c> / <c>architectures</c>, and hands the folder to that family's loader. The one place the tools
/// name a family's concrete class.
/// </summary>
public static class VlmLoader
{
    /// <summary>The families this build can run, as "model_type (what it is)".</summary>
    public static IReadOnlyList<string> Implemented { get; } =
        ["llava (LLaVA-1.5: llava-hf/llava-1.5-*-hf, research liuhaotian/llava-v1.5-*)",
         "qwen2_5_vl (Qwen2.5-VL: Qwen/Qwen2.5-VL-*-Instruct)"];

    /// <summary>
    /// The family profile of a checkpoint from its config.json alone (no weights, no tokenizer): presets, token
    /// arithmetic and saliency defaults, so plans can be built before the model loads. Works for families not
    /// implemented yet too. A research LLaVA-1.5 folder needs its vision tower's folder (<paramref name="visionTowerDirectory"/>).
    /// </summary>
    /// <exception cref="FileNotFoundException">No config.json in the folder.</exception>
    /// <exception cref="ArgumentException">A research LLaVA-1.5 config without <paramref name="visionTowerDirectory"/>.</exception>
    public static ModelProfile ProfileOf(string modelDirectory, string? visionTowerDirectory = null)
    {
        var config = HfConfigLoader.Load(modelDirectory);
        if (config is LlavaConfig { Vision: null } llava)
        {
            if (visionTowerDirectory is null)
                throw new ArgumentException($"{config.SourcePath}: a research LLaVA checkpoint has no vision tower config; pass the folder of " +
                                            $"'{llava.VisionTowerName}' as the vision tower path");
            return ModelProfiles.For(config, HfConfigLoader.LoadClipVision(visionTowerDirectory));
        }
        return ModelProfiles.For(config);
    }

    /// <exception cref="FileNotFoundException">No config.json in the folder.</exception>
    /// <exception cref="NotSupportedException">A family that is recognised but not implemented yet; the message names the
    /// implemented ones.</exception>
    public static IVisionLanguageModel FromPretrained(string modelDirectory, LoadOptions? options = null)
    {
        var config = HfConfigLoader.Load(modelDirectory);
        return config.Family switch
        {
            VlmFamily.Llava => LlavaPipeline.FromPretrained(modelDirectory, options),
            VlmFamily.Qwen25Vl => Qwen25Vl.Qwen25VlPipeline.FromPretrained(modelDirectory, options),
            _ => throw new NotSupportedException(
                $"{config.SourcePath}: {config.Family} models (model_type '{config.ModelType}') are not implemented yet; " +
                $"implemented: {string.Join("; ", Implemented)}"),
        };
    }
}
