using PioFvlm.Models.Configs;

namespace PioFvlm.Tests.Configs;

/// <summary>Each real 7B config.json parses to the values the specs list (llava.md §2, qwen25vl A1); expected
/// values are written from the specs, not from the parser.</summary>
public class RealConfigTests
{
    [Test]
    public void Llava15Hf_ParsesSpecValues()
    {
        var config = HfConfigLoader.Load(ConfigFiles.Folder(ConfigFiles.Llava15Hf));
        Assert.That(config, Is.TypeOf<LlavaConfig>());
        var c = (LlavaConfig)config;
        Assert.Multiple(() =>
        {
            Assert.That(c.Family, Is.EqualTo(VlmFamily.Llava));
            Assert.That(c.Layout, Is.EqualTo(LlavaLayout.Hf));
            Assert.That(c.ModelType, Is.EqualTo("llava"));
            Assert.That(c.Architectures, Is.EqualTo(new[] { "LlavaForConditionalGeneration" }));
            Assert.That(c.CheckpointDType, Is.EqualTo("float16"));
            Assert.That(c.ImageTokenId, Is.EqualTo(32000));
            Assert.That(c.PadTokenId, Is.EqualTo(32001));
            Assert.That(c.ProjectorHiddenAct, Is.EqualTo("gelu"));
            Assert.That(c.VisionFeatureLayers, Is.EqualTo(new[] { -2 }));
            Assert.That(c.VisionFeatureSelectStrategy, Is.EqualTo("default"));
            Assert.That(c.TieWordEmbeddings, Is.False);
            Assert.That(c.ImageSeqLength, Is.EqualTo(576), "absent in this save: LlavaConfig default");
            Assert.That(c.ProjectorBias, Is.True, "absent: LlavaConfig default");
            Assert.That(c.ProjectorInputSize, Is.EqualTo(1024));

            var t = c.Text;
            Assert.That(t.ModelType, Is.EqualTo("llama"));
            Assert.That(t.VocabSize, Is.EqualTo(32064));
            Assert.That(t.HiddenSize, Is.EqualTo(4096), "LlamaConfig default");
            Assert.That(t.IntermediateSize, Is.EqualTo(11008), "LlamaConfig default");
            Assert.That(t.NumHiddenLayers, Is.EqualTo(32));
            Assert.That(t.NumAttentionHeads, Is.EqualTo(32));
            Assert.That(t.NumKeyValueHeads, Is.EqualTo(32), "kv heads default to heads");
            Assert.That(t.HeadDim, Is.EqualTo(128));
            Assert.That(t.RmsNormEps, Is.EqualTo(1e-5));
            Assert.That(t.RopeTheta, Is.EqualTo(10000.0));
            Assert.That(t.RopeType, Is.EqualTo("default"));
            Assert.That(t.MaxPositionEmbeddings, Is.EqualTo(4096));
            Assert.That(t.HiddenAct, Is.EqualTo("silu"));
            Assert.That(t.BosTokenId, Is.EqualTo(1));
            Assert.That(t.EosTokenIds, Is.EqualTo(new[] { 2 }));
            Assert.That(t.SlidingWindow, Is.Null);
            Assert.That(t.AttentionBias, Is.False);
            Assert.That(t.MlpBias, Is.False);

            var v = c.Vision!;
            Assert.That(v.HiddenSize, Is.EqualTo(1024));
            Assert.That(v.IntermediateSize, Is.EqualTo(4096));
            Assert.That(v.NumHiddenLayers, Is.EqualTo(24));
            Assert.That(v.NumAttentionHeads, Is.EqualTo(16));
            Assert.That(v.ImageSize, Is.EqualTo(336));
            Assert.That(v.PatchSize, Is.EqualTo(14));
            Assert.That(v.ProjectionDim, Is.EqualTo(768));
            Assert.That(v.HiddenAct, Is.EqualTo("quick_gelu"), "CLIPVisionConfig default");
            Assert.That(v.LayerNormEps, Is.EqualTo(1e-5), "CLIPVisionConfig default");
            Assert.That(v.NumChannels, Is.EqualTo(3));
            Assert.That(v.NumPatches, Is.EqualTo(576));
            Assert.That(v.NumPositions, Is.EqualTo(577));
        });
    }

    [Test]
    public void LlavaNextMistralHf_ParsesSpecValues()
    {
        var c = (LlavaNextConfig)HfConfigLoader.Load(ConfigFiles.File(ConfigFiles.LlavaNextMistralHf));
        Assert.Multiple(() =>
        {
            Assert.That(c.Family, Is.EqualTo(VlmFamily.LlavaNext));
            Assert.That(c.Layout, Is.EqualTo(LlavaLayout.Hf));
            Assert.That(c.ImageTokenId, Is.EqualTo(32000));
            Assert.That(c.PadTokenId, Is.Null, "neither the top level nor text_config writes one");
            Assert.That(c.ImageGridPinpoints, Is.EqualTo(new[]
            {
                new ImageResolution(336, 672), new ImageResolution(672, 336), new ImageResolution(672, 672),
                new ImageResolution(1008, 336), new ImageResolution(336, 1008),
            }));
            Assert.That(c.PatchMergeType, Is.EqualTo("spatial_unpad"));

            var t = c.Text;
            Assert.That(t.ModelType, Is.EqualTo("mistral"));
            Assert.That(t.VocabSize, Is.EqualTo(32064));
            Assert.That(t.HiddenSize, Is.EqualTo(4096), "MistralConfig default");
            Assert.That(t.NumHiddenLayers, Is.EqualTo(32), "MistralConfig default");
            Assert.That(t.NumAttentionHeads, Is.EqualTo(32), "MistralConfig default");
            Assert.That(t.NumKeyValueHeads, Is.EqualTo(8));
            Assert.That(t.NumKeyValueGroups, Is.EqualTo(4));
            Assert.That(t.IntermediateSize, Is.EqualTo(14336));
            Assert.That(t.MaxPositionEmbeddings, Is.EqualTo(32768));
            Assert.That(t.RmsNormEps, Is.EqualTo(1e-5));
            Assert.That(t.RopeTheta, Is.EqualTo(1000000.0));
            Assert.That(t.SlidingWindow, Is.Null, "explicit null overrides MistralConfig's 4096");
            Assert.That(t.CheckpointDType, Is.EqualTo("bfloat16"));
            Assert.That(c.CheckpointDType, Is.EqualTo("float16"));
            Assert.That(c.Vision!.NumHiddenLayers, Is.EqualTo(24));
        });
    }

    [Test]
    public void Llava15Research_ParsesSpecValues()
    {
        var c = (LlavaConfig)HfConfigLoader.Load(ConfigFiles.File(ConfigFiles.Llava15Research));
        Assert.Multiple(() =>
        {
            Assert.That(c.Layout, Is.EqualTo(LlavaLayout.Research));
            Assert.That(c.ModelType, Is.EqualTo("llava"), "research file says llava; routed on mm_* keys");
            Assert.That(c.Architectures, Is.EqualTo(new[] { "LlavaLlamaForCausalLM" }));
            Assert.That(c.VisionTowerName, Is.EqualTo("openai/clip-vit-large-patch14-336"));
            Assert.That(c.Vision, Is.Null);
            Assert.That(c.ProjectorInputSize, Is.EqualTo(1024));
            Assert.That(c.VisionFeatureLayers, Is.EqualTo(new[] { -2 }));
            Assert.That(c.VisionFeatureSelectStrategy, Is.EqualTo("default"), "mm_vision_select_feature patch");
            Assert.That(c.ImageAspectRatio, Is.EqualTo("pad"));
            Assert.That(c.UseImageStartEnd, Is.False);
            Assert.That(c.ImageTokenId, Is.EqualTo(-200), "research IMAGE_TOKEN_INDEX placeholder");
            Assert.That(c.PadTokenId, Is.EqualTo(0));
            Assert.That(c.ImageSeqLength, Is.Null);
            Assert.That(c.TieWordEmbeddings, Is.False);
            Assert.That(c.Text.ModelType, Is.EqualTo("llama"));
            Assert.That(c.Text.VocabSize, Is.EqualTo(32000));
            Assert.That(c.Text.HiddenSize, Is.EqualTo(4096));
            Assert.That(c.Text.IntermediateSize, Is.EqualTo(11008));
            Assert.That(c.Text.NumHiddenLayers, Is.EqualTo(32));
            Assert.That(c.Text.NumKeyValueHeads, Is.EqualTo(32));
            Assert.That(c.Text.RmsNormEps, Is.EqualTo(1e-5));
            Assert.That(c.Text.MaxPositionEmbeddings, Is.EqualTo(4096));
        });
        Assert.That(() => c.RequireVision(), Throws.InvalidOperationException.With.Message.Contains("openai/clip-vit-large-patch14-336"));
    }

    [Test]
    public void Qwen25Vl7B_ParsesSpecValues()
    {
        var c = (Qwen25VlConfig)HfConfigLoader.Load(ConfigFiles.File(ConfigFiles.Qwen25Vl7B));
        Assert.Multiple(() =>
        {
            Assert.That(c.Family, Is.EqualTo(VlmFamily.Qwen25Vl));
            Assert.That(c.CheckpointDType, Is.EqualTo("bfloat16"));
            Assert.That(c.ImageTokenId, Is.EqualTo(151655));
            Assert.That(c.VideoTokenId, Is.EqualTo(151656));
            Assert.That(c.VisionStartTokenId, Is.EqualTo(151652));
            Assert.That(c.VisionEndTokenId, Is.EqualTo(151653));
            Assert.That(c.VisionTokenId, Is.EqualTo(151654));

            var t = c.Text;
            Assert.That(t.HiddenSize, Is.EqualTo(3584));
            Assert.That(t.IntermediateSize, Is.EqualTo(18944));
            Assert.That(t.NumHiddenLayers, Is.EqualTo(28));
            Assert.That(t.NumAttentionHeads, Is.EqualTo(28));
            Assert.That(t.NumKeyValueHeads, Is.EqualTo(4));
            Assert.That(t.NumKeyValueGroups, Is.EqualTo(7));
            Assert.That(t.HeadDim, Is.EqualTo(128));
            Assert.That(t.RmsNormEps, Is.EqualTo(1e-6));
            Assert.That(t.RopeTheta, Is.EqualTo(1000000.0));
            Assert.That(t.MropeSection, Is.EqualTo(new[] { 16, 24, 24 }));
            Assert.That(t.MaxPositionEmbeddings, Is.EqualTo(128000));
            Assert.That(t.VocabSize, Is.EqualTo(152064));
            Assert.That(t.TieWordEmbeddings, Is.False);
            Assert.That(t.HiddenAct, Is.EqualTo("silu"));
            Assert.That(t.BosTokenId, Is.EqualTo(151643));
            Assert.That(t.EosTokenIds, Is.EqualTo(new[] { 151645 }));

            var v = c.Vision;
            Assert.That(v.Depth, Is.EqualTo(32));
            Assert.That(v.HiddenSize, Is.EqualTo(1280));
            Assert.That(v.NumHeads, Is.EqualTo(16));
            Assert.That(v.HeadDim, Is.EqualTo(80));
            Assert.That(v.IntermediateSize, Is.EqualTo(3420));
            Assert.That(v.HiddenAct, Is.EqualTo("silu"));
            Assert.That(v.PatchSize, Is.EqualTo(14));
            Assert.That(v.TemporalPatchSize, Is.EqualTo(2));
            Assert.That(v.SpatialMergeSize, Is.EqualTo(2));
            Assert.That(v.InChannels, Is.EqualTo(3), "from the in_chans alias");
            Assert.That(v.WindowSize, Is.EqualTo(112));
            Assert.That(v.FullAttentionBlockIndexes, Is.EqualTo(new[] { 7, 15, 23, 31 }));
            Assert.That(v.OutHiddenSize, Is.EqualTo(3584));
            Assert.That(v.TokensPerSecond, Is.EqualTo(2));
            Assert.That(v.MergedHiddenSize, Is.EqualTo(5120));
        });
    }
}
