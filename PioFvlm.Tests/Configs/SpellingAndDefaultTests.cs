using System.Text.Json;
using System.Text.Json.Nodes;
using PioFvlm.Models.Configs;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Configs;

/// <summary>transformers v4 and v5 spellings give identical records, and absent fields take the HF class defaults
/// (values from llava.md §2.4 and the HF configuration classes).</summary>
public class SpellingAndDefaultTests
{
    // Records hold lists, whose equality is by reference; compare the full JSON of both records instead.
    static string Snapshot(VlmConfig c) => JsonSerializer.Serialize<object>(c with { SourcePath = "" });

    [Test]
    public void Llava15_V4AndV5Spellings_ParseIdentically()
    {
        var v4 = HfConfigLoader.Load(ConfigFiles.File(ConfigFiles.Llava15Hf));
        var v5 = HfConfigLoader.Load(ConfigFiles.File(ConfigFiles.Llava15HfV5));
        Assert.That(Snapshot(v5), Is.EqualTo(Snapshot(v4)));
        Assert.That(((LlavaConfig)v5).ImageTokenId, Is.EqualTo(32000), "from image_token_id");
        Assert.That(v5.CheckpointDType, Is.EqualTo("float16"), "from dtype");
    }

    [Test]
    public void Qwen25Vl_FlatV4AndNestedV5_ParseIdentically()
    {
        var v4 = HfConfigLoader.Load(ConfigFiles.File(ConfigFiles.Qwen25Vl7B));
        var v5 = (Qwen25VlConfig)HfConfigLoader.Load(ConfigFiles.File(ConfigFiles.Qwen25Vl7BV5));
        Assert.That(Snapshot(v5), Is.EqualTo(Snapshot(v4)));
        Assert.That(v5.Text.MropeSection, Is.EqualTo(new[] { 16, 24, 24 }), "from rope_parameters");
        Assert.That(v5.VideoTokenId, Is.EqualTo(151656), "top level wins over text_config's null");
    }

    [Test]
    public void RopeTheta_InRopeParameters_MatchesTopLevelRopeTheta()
    {
        using var dir = new TempDir();
        var v5 = ConfigFiles.Edited(dir, ConfigFiles.LlavaNextMistralHf, j =>
        {
            var text = j["text_config"]!.AsObject();
            text.Remove("rope_theta");
            text["rope_parameters"] = new JsonObject { ["rope_type"] = "default", ["rope_theta"] = 1000000.0 };
        });
        var c = (LlavaNextConfig)HfConfigLoader.Load(v5);
        Assert.That(c.Text.RopeTheta, Is.EqualTo(1000000.0));
    }

    [Test]
    public void RemovedFields_TakeHfDefaults()
    {
        using var dir = new TempDir();
        var path = ConfigFiles.Edited(dir, ConfigFiles.LlavaNextMistralHf, j =>
        {
            var text = j["text_config"]!.AsObject();
            text.Remove("num_key_value_heads");   // MistralConfig: 8
            text.Remove("sliding_window");        // MistralConfig: 4096 (absent is not null)
            text.Remove("rms_norm_eps");          // 1e-6
            text.Remove("rope_theta");            // 10000
            text.Remove("max_position_embeddings"); // 4096 * 32
            text.Remove("intermediate_size");     // 14336
            j.Remove("image_grid_pinpoints");     // LlavaNextConfig's 5 entries
            j.Remove("vision_feature_layer");     // -2
            j.Remove("vision_feature_select_strategy"); // default
            j.Remove("image_token_index");        // 32000
            j.Remove("projector_hidden_act");     // gelu
            var vision = j["vision_config"]!.AsObject();
            vision.Remove("projection_dim");      // CLIPVisionConfig: 512
            vision.Remove("num_attention_heads"); // 12
            vision.Remove("hidden_size");         // 768
        });
        var c = (LlavaNextConfig)HfConfigLoader.Load(path);
        Assert.Multiple(() =>
        {
            Assert.That(c.Text.NumKeyValueHeads, Is.EqualTo(8));
            Assert.That(c.Text.SlidingWindow, Is.EqualTo(4096));
            Assert.That(c.Text.RmsNormEps, Is.EqualTo(1e-6));
            Assert.That(c.Text.RopeTheta, Is.EqualTo(10000.0));
            Assert.That(c.Text.MaxPositionEmbeddings, Is.EqualTo(131072));
            Assert.That(c.Text.IntermediateSize, Is.EqualTo(14336));
            Assert.That(c.ImageGridPinpoints, Has.Count.EqualTo(5));
            Assert.That(c.ImageGridPinpoints[3], Is.EqualTo(new ImageResolution(1008, 336)));
            Assert.That(c.VisionFeatureLayers, Is.EqualTo(new[] { -2 }));
            Assert.That(c.VisionFeatureSelectStrategy, Is.EqualTo("default"));
            Assert.That(c.ImageTokenId, Is.EqualTo(32000));
            Assert.That(c.ProjectorHiddenAct, Is.EqualTo("gelu"));
            Assert.That(c.Vision!.ProjectionDim, Is.EqualTo(512));
            Assert.That(c.Vision.NumAttentionHeads, Is.EqualTo(12));
            Assert.That(c.Vision.HiddenSize, Is.EqualTo(768));
            Assert.That(c.ProjectorInputSize, Is.EqualTo(768));
        });
    }

    [Test]
    public void LlamaTextDefaults_AndMissingSubconfigs()
    {
        using var dir = new TempDir();
        var path = ConfigFiles.Written(dir, "config.json", """{"model_type": "llava"}""");
        var c = (LlavaConfig)HfConfigLoader.Load(path);
        Assert.Multiple(() =>
        {
            // LlamaConfig() defaults
            Assert.That(c.Text.ModelType, Is.EqualTo("llama"));
            Assert.That(c.Text.VocabSize, Is.EqualTo(32000));
            Assert.That(c.Text.MaxPositionEmbeddings, Is.EqualTo(2048));
            Assert.That(c.Text.RmsNormEps, Is.EqualTo(1e-6));
            Assert.That(c.Text.NumKeyValueHeads, Is.EqualTo(32));
            Assert.That(c.Text.HeadDim, Is.EqualTo(128));
            // missing vision_config: CLIP-L/14-336
            Assert.That(c.Vision!.HiddenSize, Is.EqualTo(1024));
            Assert.That(c.Vision.NumHiddenLayers, Is.EqualTo(24));
            Assert.That(c.Vision.ImageSize, Is.EqualTo(336));
            Assert.That(c.Vision.PatchSize, Is.EqualTo(14));
            Assert.That(c.Vision.HiddenAct, Is.EqualTo("quick_gelu"));
        });
    }

    [Test]
    public void QwenVisionDefaults_TokensPerSecondAndChannels()
    {
        using var dir = new TempDir();
        var path = ConfigFiles.Edited(dir, ConfigFiles.Qwen25Vl7B, j =>
        {
            var vision = j["vision_config"]!.AsObject();
            vision.Remove("tokens_per_second"); // class default 4 (7B writes 2)
            vision.Remove("in_chans");          // 3
            vision.Remove("patch_size");        // spatial_patch_size alias still gives 14
        });
        var v = ((Qwen25VlConfig)HfConfigLoader.Load(path)).Vision;
        Assert.That((v.TokensPerSecond, v.InChannels, v.PatchSize), Is.EqualTo((4, 3, 14)));
    }

    [Test]
    public void VisionFeatureLayer_List_SetsProjectorWidth()
    {
        using var dir = new TempDir();
        var path = ConfigFiles.Edited(dir, ConfigFiles.Llava15Hf, j => j["vision_feature_layer"] = new JsonArray(-2, -5, 3));
        var c = (LlavaConfig)HfConfigLoader.Load(path);
        Assert.That(c.VisionFeatureLayers, Is.EqualTo(new[] { -2, -5, 3 }));
        Assert.That(c.ProjectorInputSize, Is.EqualTo(3 * 1024));
    }

    [Test]
    public void ResearchAnyres_BecomesLlavaNext_WithWidthHeightPinpointsSwapped()
    {
        using var dir = new TempDir();
        var path = ConfigFiles.Edited(dir, ConfigFiles.Llava15Research, j =>
        {
            j["model_type"] = "llava_llama";
            j["image_aspect_ratio"] = "anyres";
            j["mm_patch_merge_type"] = "spatial_unpad";
            // research reads [W, H]: 672 wide, 336 high
            j["image_grid_pinpoints"] = new JsonArray(new JsonArray(672, 336));
        });
        var c = (LlavaNextConfig)HfConfigLoader.Load(path);
        Assert.That(c.Layout, Is.EqualTo(LlavaLayout.Research));
        Assert.That(c.ImageGridPinpoints, Is.EqualTo(new[] { new ImageResolution(Height: 336, Width: 672) }));
        Assert.That(c.PatchMergeType, Is.EqualTo("spatial_unpad"));
    }

    [Test]
    public void ResearchConfig_AttachesClipTowerFromItsOwnConfig()
    {
        using var dir = new TempDir();
        // openai/clip-vit-large-patch14-336 style CLIPModel config: the tower sits under vision_config.
        var clip = ConfigFiles.Written(dir, "clip.json", """
            {"model_type": "clip", "projection_dim": 768,
             "vision_config": {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
                               "num_hidden_layers": 24, "image_size": 336, "patch_size": 14, "projection_dim": 768}}
            """);
        var research = (LlavaConfig)HfConfigLoader.Load(ConfigFiles.File(ConfigFiles.Llava15Research));
        var tower = HfConfigLoader.LoadClipVision(clip);
        var attached = research.WithVisionTower(tower);
        Assert.That(attached.Vision, Is.EqualTo(ClipVisionConfig.ClipVitLargePatch14_336));
        Assert.That(attached, Is.TypeOf<LlavaConfig>());

        var wrong = tower with { HiddenSize = 768, NumAttentionHeads = 12 };
        Assert.That(() => research.WithVisionTower(wrong),
            Throws.InstanceOf<ConfigFormatException>().With.Message.Contains("mm_hidden_size"));
    }
}
