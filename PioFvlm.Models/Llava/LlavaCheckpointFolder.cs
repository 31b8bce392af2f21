using PioFvlm.Core.Runtime;
using PioFvlm.Core.Text;
using PioFvlm.Models.Configs;

namespace PioFvlm.Models.Llava;

/// <summary>What LLaVA-1.5 and LLaVA-NeXT folders share before their weights load: the config (with the research
/// layout's CLIP tower config attached), the memory check, and the tokenizer.</summary>
internal static class LlavaCheckpointFolder
{
    /// <summary>The folder's config as <typeparamref name="T"/>, and the folder whose preprocessor_config.json applies
    /// (the CLIP tower's for the research layout).</summary>
    public static (T Config, string ProcessorDirectory) ReadConfig<T>(string modelDirectory, LoadOptions options, string familyName)
        where T : LlavaFamilyConfig
    {
        TorchRuntime.EnsureLoaded();
        var parsed = HfConfigLoader.Load(modelDirectory);
        if (parsed is not T config)
            throw new ArgumentException($"{parsed.SourcePath}: not a {familyName} config ({parsed.Family})");
        string processorDirectory = modelDirectory;
        if (config.Layout == LlavaLayout.Research)
        {
            string tower = options.VisionTowerPath ?? throw new ArgumentException(
                $"{config.SourcePath}: a research {familyName} checkpoint has no vision tower config; pass the folder of " +
                $"'{config.VisionTowerName}' as the vision tower path");
            config = (T)config.WithVisionTower(HfConfigLoader.LoadClipVision(tower));
            processorDirectory = tower;
        }
        if (options.CheckMemory)
            MemoryGuard.EnsureWeightsFit(ModelSizeEstimator.Estimate(config), options.DType, Path.GetFileName(Path.GetFullPath(modelDirectory)));
        return (config, processorDirectory);
    }

    /// <summary>The folder's tokenizer; without tokenizer files and with <see cref="LoadOptions.RequireTokenizer"/> off, a
    /// <see cref="MissingTokenizer"/> with the config's special ids.</summary>
    public static ITokenizer Tokenizer(string modelDirectory, LoadOptions options, LlavaFamilyConfig config) =>
        options.RequireTokenizer || TokenizerLoader.HasTokenizer(modelDirectory)
            ? TokenizerLoader.FromFolder(modelDirectory)
            : LlavaPipeline.MissingTokenizerFor(modelDirectory, config);
}
