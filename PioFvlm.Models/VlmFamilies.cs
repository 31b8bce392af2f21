using PioFvlm.Core.Models;
using PioFvlm.Core.Text;
using PioFvlm.Core.Vision;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;

namespace PioFvlm.Models;

/// <summary>One implemented family: how to load a checkpoint folder of it, and how to build it with random weights
/// from a config (measurements).</summary>
/// <param name="Name">"model_type (what it is)", for listings and errors.</param>
public sealed record VlmFamilyRegistration(VlmFamily Family, string Name,
    Func<string, LoadOptions, IVisionLanguageModel> Load,
    Func<VlmConfig, RandomModelOptions, RandomModel> BuildRandom);

/// <summary>
/// The family registration: the one place that names each family's concrete model class. <see cref="VlmLoader"/>
/// loads through it, the measurement rig builds random-weight models through it, and the LLaVA-1.5 demo trainer
/// reaches the LLaVA modules through <see cref="Llava15Modules"/>. A new family adds one line to <see cref="All"/>.
/// </summary>
public static class VlmFamilies
{
    public static IReadOnlyList<VlmFamilyRegistration> All { get; } =
    [
        new(VlmFamily.Llava, "llava (LLaVA-1.5: llava-hf/llava-1.5-*-hf, research liuhaotian/llava-v1.5-*)",
            (folder, options) => LlavaPipeline.FromPretrained(folder, options),
            (config, options) => LlavaRandomModel.Build((LlavaConfig)config, options)),
        new(VlmFamily.LlavaNext, "llava_next (LLaVA-NeXT: llava-hf/llava-v1.6-vicuna-7b-hf, llava-v1.6-mistral-7b-hf, research liuhaotian/llava-v1.6-*)",
            (folder, options) => LlavaNext.LlavaNextPipeline.FromPretrained(folder, options),
            (config, options) => LlavaNext.LlavaNextRandomModel.Build((LlavaNextConfig)config, options)),
        new(VlmFamily.Qwen25Vl, "qwen2_5_vl (Qwen2.5-VL: Qwen/Qwen2.5-VL-*-Instruct)",
            (folder, options) => Qwen25Vl.Qwen25VlPipeline.FromPretrained(folder, options),
            (config, options) => Qwen25Vl.Qwen25VlRandomModel.Build((Qwen25VlConfig)config, options)),
    ];

    /// <summary>The registration of <paramref name="config"/>'s family.</summary>
    /// <exception cref="NotSupportedException">A family that is recognised but not implemented yet; the message names
    /// the config file, its model_type and the implemented families.</exception>
    public static VlmFamilyRegistration For(VlmConfig config) =>
        All.FirstOrDefault(f => f.Family == config.Family) ?? throw new NotSupportedException(
            $"{config.SourcePath}: {config.Family} models (model_type '{config.ModelType}') are not implemented yet; " +
            $"implemented: {string.Join("; ", All.Select(f => f.Name))}");

    /// <summary>A model of <paramref name="config"/>'s shape with random weights (frozen), built in memory.</summary>
    public static RandomModel BuildRandom(VlmConfig config, RandomModelOptions? options = null) =>
        For(config).BuildRandom(config, options ?? new RandomModelOptions());

    /// <summary>A LLaVA-1.5 model from its parts (the demo trainer's freshly initialised modules).</summary>
    public static IVisionLanguageModel Llava15(LlavaFamilyConfig config, LlavaForConditionalGeneration modules, ITokenizer tokenizer,
                                              ClipImageProcessor processor) =>
        new LlavaPipeline(config, modules, tokenizer, processor);

    /// <summary>The LLaVA modules of a LLaVA-1.5 model, for code that trains them or runs them batched (the demo trainer).</summary>
    /// <exception cref="NotSupportedException">The model is of another family.</exception>
    public static LlavaForConditionalGeneration Llava15Modules(IVisionLanguageModel model) => model is LlavaPipeline llava
        ? llava.Model
        : throw new NotSupportedException($"a LLaVA-1.5 model is needed here, not {model.Profile.Family} ({model.Profile.Description})");
}
