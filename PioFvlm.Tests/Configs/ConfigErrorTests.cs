using System.Text.Json.Nodes;
using PioFvlm.Models.Configs;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Configs;

/// <summary>Bad configs fail with messages that name the file and the JSON path at fault.</summary>
public class ConfigErrorTests
{
    [Test]
    public void UnknownModelType_ListsSupportedOnes()
    {
        using var dir = new TempDir();
        var path = ConfigFiles.Written(dir, "config.json", """{"model_type": "qwen2_vl", "architectures": ["Qwen2VLForConditionalGeneration"]}""");
        var e = Assert.Throws<UnsupportedModelException>(() => HfConfigLoader.Load(dir.Path))!;
        Assert.That(e.Message, Does.Contain(path));
        Assert.That(e.Message, Does.Contain("'qwen2_vl'"));
        foreach (var supported in new[] { "llava", "llava_next", "qwen2_5_vl", "LlavaForConditionalGeneration", "Qwen2_5_VLForConditionalGeneration" })
            Assert.That(e.Message, Does.Contain(supported));
    }

    [Test]
    public void UnknownArchitecture_WithoutModelType_IsRejected()
    {
        using var dir = new TempDir();
        ConfigFiles.Written(dir, "config.json", """{"architectures": ["PaliGemmaForConditionalGeneration"]}""");
        var e = Assert.Throws<UnsupportedModelException>(() => HfConfigLoader.Load(dir.Path))!;
        Assert.That(e.Message, Does.Contain("PaliGemmaForConditionalGeneration").And.Contain("LlavaNextForConditionalGeneration"));
    }

    [Test]
    public void ContradictingArchitecture_IsRejected()
    {
        using var dir = new TempDir();
        var path = ConfigFiles.Edited(dir, ConfigFiles.Llava15Hf, j => j["architectures"] = new JsonArray("Qwen2_5_VLForConditionalGeneration"));
        Assert.That(() => HfConfigLoader.Load(path), Throws.InstanceOf<ConfigFormatException>().With.Message.Contains("contradicts"));
    }

    [Test]
    public void WrongValueType_NamesFileAndJsonPath()
    {
        using var dir = new TempDir();
        var path = ConfigFiles.Edited(dir, ConfigFiles.Llava15Hf, j => j["text_config"]!["hidden_size"] = "4096");
        var e = Assert.Throws<ConfigFormatException>(() => HfConfigLoader.Load(path))!;
        Assert.That(e.JsonPath, Is.EqualTo("text_config.hidden_size"));
        Assert.That(e.Message, Does.Contain(path).And.Contain("text_config.hidden_size").And.Contain("expected an integer"));
    }

    [Test]
    public void NonIntegralNumber_And_BadListItem_NamePaths()
    {
        using var dir = new TempDir();
        var half = ConfigFiles.Edited(dir, ConfigFiles.Qwen25Vl7B, j => j["vision_config"]!["depth"] = 32.5);
        Assert.That(() => HfConfigLoader.Load(half),
            Throws.InstanceOf<ConfigFormatException>().With.Property("JsonPath").EqualTo("vision_config.depth"));

        var item = ConfigFiles.Edited(dir, ConfigFiles.Qwen25Vl7B, j => j["rope_scaling"]!["mrope_section"]![1] = "24");
        Assert.That(() => HfConfigLoader.Load(item),
            Throws.InstanceOf<ConfigFormatException>().With.Property("JsonPath").EqualTo("rope_scaling.mrope_section[1]"));
    }

    [Test]
    public void MissingRequiredField_NamesPath()
    {
        using var dir = new TempDir();
        var research = ConfigFiles.Edited(dir, ConfigFiles.Llava15Research, j => j.Remove("mm_hidden_size"));
        var e = Assert.Throws<ConfigFormatException>(() => HfConfigLoader.Load(research))!;
        Assert.That(e.Message, Does.Contain(research).And.Contain("mm_hidden_size").And.Contain("missing"));

        var qwenV5 = ConfigFiles.Edited(dir, ConfigFiles.Qwen25Vl7BV5, j => j["text_config"]!.AsObject().Remove("hidden_size"));
        var q = Assert.Throws<ConfigFormatException>(() => HfConfigLoader.Load(qwenV5))!;
        Assert.That(q.JsonPath, Is.EqualTo("text_config.hidden_size"));
        Assert.That(q.Message, Does.Contain("missing"));

        var noSection = ConfigFiles.Edited(dir, ConfigFiles.Qwen25Vl7B, j => j.Remove("rope_scaling"));
        Assert.That(() => HfConfigLoader.Load(noSection), Throws.InstanceOf<ConfigFormatException>().With.Message.Contains("mrope_section"));
    }

    [Test]
    public void MalformedJson_NamesFileAndLine()
    {
        using var dir = new TempDir();
        var path = ConfigFiles.Written(dir, "config.json", "{\n  \"model_type\": \"llava\",\n  \"text_config\": {\n}");
        var e = Assert.Throws<ConfigFormatException>(() => HfConfigLoader.Load(path))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("malformed JSON").And.Contain("line"));
    }

    [Test]
    public void MissingFile_IsFileNotFound()
    {
        using var dir = new TempDir();
        Assert.That(() => HfConfigLoader.Load(dir.Path), Throws.InstanceOf<FileNotFoundException>().With.Message.Contains("config.json"));
    }

    [Test]
    public void UnsupportedRopeScaling_IsRefusedClearly()
    {
        using var dir = new TempDir();
        var path = ConfigFiles.Edited(dir, ConfigFiles.Llava15Research, j =>
            j["rope_scaling"] = new JsonObject { ["type"] = "linear", ["factor"] = 2.0 });
        var e = Assert.Throws<ConfigFormatException>(() => HfConfigLoader.Load(path))!;
        Assert.That(e.JsonPath, Is.EqualTo("rope_scaling.type"));
        Assert.That(e.Message, Does.Contain("'linear'").And.Contain("supported: default"));
    }

    [Test]
    public void InconsistentValues_AreRefused()
    {
        using var dir = new TempDir();
        var section = ConfigFiles.Edited(dir, ConfigFiles.Qwen25Vl7B, j => j["rope_scaling"]!["mrope_section"] = new JsonArray(16, 24, 16));
        Assert.That(() => HfConfigLoader.Load(section), Throws.InstanceOf<ConfigFormatException>().With.Message.Contains("head_dim/2 = 64"));

        var kv = ConfigFiles.Edited(dir, ConfigFiles.LlavaNextMistralHf, j => j["text_config"]!["num_key_value_heads"] = 5);
        Assert.That(() => HfConfigLoader.Load(kv),
            Throws.InstanceOf<ConfigFormatException>().With.Property("JsonPath").EqualTo("text_config.num_key_value_heads"));

        var tower = ConfigFiles.Edited(dir, ConfigFiles.Llava15Hf, j => j["vision_config"]!["model_type"] = "siglip_vision_model");
        Assert.That(() => HfConfigLoader.Load(tower), Throws.InstanceOf<UnsupportedModelException>().With.Message.Contains("siglip_vision_model"));

        var projector = ConfigFiles.Edited(dir, ConfigFiles.Llava15Research, j => j["mm_projector_type"] = "linear");
        Assert.That(() => HfConfigLoader.Load(projector), Throws.InstanceOf<ConfigFormatException>().With.Message.Contains("mlp2x_gelu"));

        var layer = ConfigFiles.Edited(dir, ConfigFiles.Llava15Hf, j => j["vision_feature_layer"] = -26);
        Assert.That(() => HfConfigLoader.Load(layer), Throws.InstanceOf<ConfigFormatException>().With.Message.Contains("out of range"));

        var merger = ConfigFiles.Edited(dir, ConfigFiles.Qwen25Vl7B, j => j["vision_config"]!["out_hidden_size"] = 2048);
        Assert.That(() => HfConfigLoader.Load(merger),
            Throws.InstanceOf<ConfigFormatException>().With.Property("JsonPath").EqualTo("vision_config.out_hidden_size"));
    }
}
