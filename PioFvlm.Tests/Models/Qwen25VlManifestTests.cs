using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Qwen25Vl;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>
/// Qwen2.5-VL-7B-Instruct built on the meta device from the real config.json (nothing allocated) against the DERIVED
/// key/shape manifest TestData/manifests/qwen2.5-vl-7b-instruct.derived.txt. No real model.safetensors.index.json of
/// the checkpoint was found in the stored public material, so the manifest is written by
/// scripts/manifests/derive_qwen25vl_manifest.py from config arithmetic and spec A2's naming table (see the manifests
/// README); it shares no code with the model.
/// </summary>
public class Qwen25VlManifestTests
{
    const string Manifest = "qwen2.5-vl-7b-instruct.derived.txt";
    const int TensorCount = 729;                     // spec A2: 390 vision + 338 text trunk + lm_head

    /// <summary>The sum of spec A2's tensor table (ModelSizeEstimatorTests; A1's own total is 1,024 higher).</summary>
    const long Parameters = 8_292_166_656L;

    static string Data(params string[] parts) => Path.Combine([TestContext.CurrentContext.TestDirectory, "TestData", .. parts]);

    static Qwen25VlForConditionalGeneration MetaModel(string configFolder)
    {
        var config = (Qwen25VlConfig)HfConfigLoader.Load(Data("configs", configFolder, "config.json"));
        return new Qwen25VlForConditionalGeneration(config, device("meta"), ScalarType.BFloat16);
    }

    static string Line(string name, long[] shape) =>
        $"{name}\t[{string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture)))}]";

    static string[] ManifestLines() => File.ReadAllText(Data("manifests", Manifest)).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Module name → Hub name, written out here (spec A2) rather than taken from the loader.</summary>
    static readonly (Regex Module, string Hub)[] ModuleToHub =
    [
        (new Regex(@"^language_model\.model\."), "model."),
        (new Regex(@"^language_model\.lm_head\."), "lm_head."),
    ];

    static string HubName(string module)
    {
        foreach (var (pattern, hub) in ModuleToHub)
            if (pattern.IsMatch(module)) return pattern.Replace(module, hub, 1);
        return module;
    }

    [TestCase("Qwen2.5-VL-7B-Instruct")]
    [TestCase("Qwen2.5-VL-7B-Instruct-v5")]
    public void MetaModelStateDictEqualsTheDerivedManifest(string configFolder)
    {
        using var model = MetaModel(configFolder);
        var state = model.state_dict();
        Assert.That(state.Values.All(t => t.device_type == DeviceType.META), "every tensor on the meta device (nothing allocated)");
        Assert.That(state.Values.All(t => t.dtype == ScalarType.BFloat16), "every tensor in bfloat16");
        var actual = state.Select(kv => Line(HubName(kv.Key), kv.Value.shape)).Order(StringComparer.Ordinal).ToArray();
        var expected = ManifestLines();
        Assert.That(expected, Has.Length.EqualTo(TensorCount));
        Assert.That(actual.Except(expected), Is.Empty, "in the module, not in the manifest");
        Assert.That(expected.Except(actual), Is.Empty, "in the manifest, not in the module");
        Assert.That(actual, Is.EqualTo(expected));
        Assert.That(state.Values.Sum(t => t.numel()), Is.EqualTo(Parameters));
    }

    /// <summary>Both layouts a checkpoint may use reach every module key through the loader's key map: the Hub names
    /// of the manifest, and the transformers ≥ 4.52 module-tree names (<c>model.visual.*</c>,
    /// <c>model.language_model.*</c>, spec A2), rewritten here from the Hub names.</summary>
    [TestCase(false)]
    [TestCase(true)]
    public void HubAndTreeNamesMapOntoTheModuleThroughTheKeyMap(bool tree)
    {
        using var model = MetaModel("Qwen2.5-VL-7B-Instruct");
        var state = model.state_dict();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in ManifestLines())
        {
            var parts = line.Split('\t');
            string name = !tree ? parts[0]
                : parts[0].StartsWith("visual.", StringComparison.Ordinal) ? "model." + parts[0]
                : parts[0].StartsWith("model.", StringComparison.Ordinal) ? "model.language_model." + parts[0]["model.".Length..]
                : parts[0];
            Assert.That(Qwen25VlKeyMaps.Hf.IsIgnored(name), Is.False, name);
            string mapped = Qwen25VlKeyMaps.Hf.Map(name);
            Assert.That(state.ContainsKey(mapped), $"'{name}' maps to '{mapped}', which the module does not have");
            Assert.That(Line(mapped, state[mapped].shape), Is.EqualTo(mapped + "\t" + parts[1]), $"shape of {name}");
            Assert.That(seen.Add(mapped), $"two names map to '{mapped}'");
        }
        Assert.That(seen, Has.Count.EqualTo(state.Count), "every module key is reached");
    }

    [Test]
    public void TheDerivedManifestIsSortedCountedAndPinned()
    {
        string path = Data("manifests", Manifest);
        var lines = ManifestLines();
        Assert.That(lines, Has.Length.EqualTo(TensorCount));
        Assert.That(lines.Select(l => l.Split('\t')[0]), Is.Ordered.Using((IComparer<string>)StringComparer.Ordinal));
        Assert.That(File.ReadAllText(path).EndsWith('\n'), "every line ends in \\n");
        long total = 0;
        foreach (var line in lines)
        {
            var dims = line.Split('\t')[1][1..^1].Split(", ").Select(long.Parse).ToArray();
            total += dims.Aggregate(1L, (a, d) => a * d);
        }
        Assert.That(total, Is.EqualTo(Parameters));
        Assert.That(lines.Count(l => l.StartsWith("visual.", StringComparison.Ordinal)), Is.EqualTo(390));
        Assert.That(lines.Count(l => l.StartsWith("model.", StringComparison.Ordinal)), Is.EqualTo(338));
        // An intended change regenerates the file with the script and updates this hash.
        string sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
        Assert.That(sha, Is.EqualTo("40a0e440fa92c322ee49fdac2d22f8d1a78c92a6499c4c2268e46d952479af2b"), path);
    }
}
