using System.Globalization;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>
/// LLaVA-1.5-7B built on the meta device from the real config.json (nothing allocated) against the approved key/shape
/// manifests of llava-hf/llava-1.5-7b-hf (TestData/manifests, see its README for where they come from).
/// </summary>
public class LlavaManifestTests
{
    static string Data(params string[] parts) => Path.Combine([TestContext.CurrentContext.TestDirectory, "TestData", .. parts]);

    static LlavaForConditionalGeneration MetaModel()
    {
        var config = HfConfigLoader.Load(Data("configs", "llava-1.5-7b-hf", "config.json"));
        return new LlavaForConditionalGeneration(LlavaArchitecture.From((LlavaConfig)config), device("meta"), ScalarType.Float16);
    }

    static string Line(string name, long[] shape) =>
        $"{name}\t[{string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture)))}]";

    static string[] ManifestLines(string file) => File.ReadAllText(Data("manifests", file)).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Test]
    public void MetaModelStateDictEqualsTheLegacyManifest()
    {
        using var model = MetaModel();
        var state = model.state_dict();
        Assert.That(state.Values.All(t => t.device_type == DeviceType.META), "every tensor on the meta device (nothing allocated)");
        Assert.That(state.Values.All(t => t.dtype == ScalarType.Float16), "every tensor in float16");
        var actual = state.Select(kv => Line(kv.Key, kv.Value.shape)).Order(StringComparer.Ordinal).ToArray();
        var expected = ManifestLines("llava-1.5-7b-hf.legacy.txt");
        Assert.That(expected, Has.Length.EqualTo(686));
        Assert.That(actual.Except(expected), Is.Empty, "in the module, not in the manifest");
        Assert.That(expected.Except(actual), Is.Empty, "in the manifest, not in the module");
        Assert.That(actual, Is.EqualTo(expected));
        long parameters = state.Values.Sum(t => t.numel());
        Assert.That(parameters, Is.EqualTo(7_063_427_072L), "spec llava.md §1");
    }

    [Test]
    public void ModernManifestMapsOntoTheModuleThroughTheHfKeyMap()
    {
        using var model = MetaModel();
        var state = model.state_dict();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in ManifestLines("llava-1.5-7b-hf.modern.txt"))
        {
            var parts = line.Split('\t');
            string mapped = LlavaKeyMaps.Hf.Map(parts[0]);
            Assert.That(LlavaKeyMaps.Hf.IsIgnored(parts[0]), Is.False, parts[0]);
            Assert.That(state.ContainsKey(mapped), $"'{parts[0]}' maps to '{mapped}', which the module does not have");
            Assert.That(Line(mapped, state[mapped].shape), Is.EqualTo(mapped + "\t" + parts[1]), $"shape of {parts[0]}");
            Assert.That(seen.Add(mapped), $"two modern names map to '{mapped}'");
        }
        Assert.That(seen, Has.Count.EqualTo(state.Count), "every module key is reached from a modern name");
    }
}
