using PioFvlm.Core.Nn;
using PioFvlm.Models.Configs;

namespace PioFvlm.Models.Llava;

/// <summary>The module shapes of a LLaVA model, mapped from its parsed config.json.</summary>
/// <param name="Vision">CLIP tower shape.</param>
/// <param name="Selection">Which CLIP hidden state(s) feed the projector and whether CLS is dropped.</param>
/// <param name="Text">Decoder shape.</param>
/// <param name="ProjectorBias">HF multimodal_projector_bias.</param>
/// <param name="ImageTokenId">The placeholder id in prompts (HF 32000; research -200).</param>
public sealed record LlavaArchitecture(ClipVisionDims Vision, ClipFeatureSelection Selection, DecoderDims Text, bool ProjectorBias, int ImageTokenId)
{
    /// <summary>Visual tokens one image becomes (patches, plus CLS for the Full strategy).</summary>
    public int TokensPerImage => Vision.NumPatches + (Selection.Strategy == ClipFeatureStrategy.Full ? 1 : 0);

    public static LlavaArchitecture From(LlavaFamilyConfig config)
    {
        var v = config.RequireVision();
        var t = config.Text;
        if (config.ProjectorHiddenAct != "gelu")
            throw new NotSupportedException($"{config.SourcePath}: projector_hidden_act '{config.ProjectorHiddenAct}' is not supported (only 'gelu')");
        if (t.HiddenAct != "silu")
            throw new NotSupportedException($"{config.SourcePath}: text_config.hidden_act '{t.HiddenAct}' is not supported (only 'silu')");
        var vision = new ClipVisionDims(v.HiddenSize, v.IntermediateSize, v.NumHiddenLayers, v.NumAttentionHeads, v.ImageSize,
            v.PatchSize, v.NumChannels, v.LayerNormEps, ClipVisionDims.ParseHiddenAct(v.HiddenAct));
        var strategy = config.VisionFeatureSelectStrategy switch
        {
            "default" or "patch" => ClipFeatureStrategy.Default,
            "full" or "cls_patch" => ClipFeatureStrategy.Full,
            var s => throw new NotSupportedException($"{config.SourcePath}: vision_feature_select_strategy '{s}' is not supported"),
        };
        var text = t.ToDecoderDims(config.TieWordEmbeddings).Validate();
        return new LlavaArchitecture(vision.Validate(), new ClipFeatureSelection(config.VisionFeatureLayers, strategy), text,
            config.ProjectorBias, config.ImageTokenId);
    }
}
