using System.Text.Json.Nodes;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Configs;

/// <summary>Paths to the real config.json files under TestData/configs and edited copies of them.</summary>
internal static class ConfigFiles
{
    public const string Llava15Hf = "llava-1.5-7b-hf";
    public const string Llava15HfV5 = "llava-1.5-7b-hf-v5";
    public const string LlavaNextMistralHf = "llava-v1.6-mistral-7b-hf";
    public const string Llava15Research = "liuhaotian-llava-v1.5-7b";
    public const string Qwen25Vl7B = "Qwen2.5-VL-7B-Instruct";
    public const string Qwen25Vl7BV5 = "Qwen2.5-VL-7B-Instruct-v5";

    public static string Folder(string name) =>
        Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "configs", name);

    public static string File(string name) => Path.Combine(Folder(name), "config.json");

    /// <summary>Writes an edited copy of a real config into <paramref name="dir"/> and returns its path.</summary>
    public static string Edited(TempDir dir, string name, Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(System.IO.File.ReadAllText(File(name)))!.AsObject();
        edit(json);
        var path = dir.File(name + ".config.json");
        System.IO.File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    public static string Written(TempDir dir, string fileName, string text)
    {
        var path = dir.File(fileName);
        System.IO.File.WriteAllText(path, text);
        return path;
    }
}
