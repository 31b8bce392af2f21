using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using PioFvlm.Bench.Commands;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;
using PioFvlm.Models.LlavaNext;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>
/// LLaVA-NeXT 7B (llava-hf/llava-v1.6-vicuna-7b-hf and llava-v1.6-mistral-7b-hf) built on the meta device from the
/// configs (nothing allocated) against the DERIVED key/shape manifests TestData/manifests/llava-v1.6-*.derived.txt.
/// No real model.safetensors.index.json of either checkpoint was found in the stored public material, so the
/// manifests are written by scripts/manifests/derive_llava_next_manifest.py from config arithmetic (see the manifests
/// README); it shares no code with the model. What ties them to a real checkpoint: the vicuna manifest minus
/// <c>image_newline</c> is, byte for byte, the approved llava-1.5-7b-hf manifest (taken from a real Hub index), and
/// the tensor counts and parameter totals are those of spec llava.md §1.
/// </summary>
public class LlavaNextManifestTests
{
    const int TensorCount = 687;   // llava.md §1: the 686 of llava-1.5-7b-hf plus image_newline

    /// <summary>One checkpoint: its manifest, the config (repository path) it was derived from, its parameter count
    /// (llava.md §1) and the manifest's pinned SHA-256.</summary>
    public sealed record Checkpoint(string Name, string Manifest, string Config, long Parameters, string Sha256)
    {
        public override string ToString() => Name;
    }

    static readonly Checkpoint Vicuna = new("vicuna", "llava-v1.6-vicuna-7b-hf.derived.txt",
        Path.Combine("configs", "models", "llava-next-7b", "config.json"), 7_063_427_072L + 4096,
        "4569d5ea997a462aac9bbada14bdb3603ec2a6ac66253ccd8a6500996e7e2308");

    static readonly Checkpoint Mistral = new("mistral", "llava-v1.6-mistral-7b-hf.derived.txt",
        Path.Combine("PioFvlm.Tests", "TestData", "configs", "llava-v1.6-mistral-7b-hf", "config.json"), 7_566_747_648L,
        "3065e7ceaee596ac34318b0ee6d28f461778c99f7dada9dad1a392cd6f6d9351");

    public static IEnumerable<Checkpoint> Checkpoints() => [Vicuna, Mistral];

    static string Data(params string[] parts) => Path.Combine([TestContext.CurrentContext.TestDirectory, "TestData", .. parts]);

    /// <summary>The config the manifest was derived from, read from the repository (the vicuna one exists only in
    /// configs/models: hand-written, see 7B-CONFIGS.md).</summary>
    static string ConfigPath(Checkpoint c) =>
        RepoFiles.FindUpwards(c.Config) ?? throw new AssertionException($"{c.Config} not found above {Environment.CurrentDirectory}");

    static LlavaNextForConditionalGeneration MetaModel(Checkpoint c)
    {
        string path = ConfigPath(c);
        var config = (LlavaNextConfig)HfConfigLoader.Load(path);
        var crops = LlavaNextPipeline.CropOptions(Path.GetDirectoryName(path)!, config);
        return LlavaNextPipeline.CreateModel(config, crops, device("meta"), ScalarType.Float16);
    }

    static string Line(string name, long[] shape) =>
        $"{name}\t[{string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture)))}]";

    static string[] ManifestLines(string file) =>
        File.ReadAllText(Data("manifests", file)).ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Legacy (on-disk) → transformers ≥ 4.52 names, spec llava.md §3.3, written out here rather than taken
    /// from the loader so that the test stays an oracle. First match wins.</summary>
    static readonly (Regex Legacy, string Modern)[] LegacyToModern =
    [
        (new Regex(@"^language_model\.model\."), "model.language_model."),
        (new Regex(@"^language_model\.lm_head\."), "lm_head."),
        (new Regex(@"^vision_tower\."), "model.vision_tower."),
        (new Regex(@"^multi_modal_projector\."), "model.multi_modal_projector."),
        (new Regex(@"^image_newline$"), "model.image_newline"),
    ];

    static string ToModern(string legacy)
    {
        foreach (var (pattern, modern) in LegacyToModern)
            if (pattern.IsMatch(legacy)) return pattern.Replace(legacy, modern, 1);
        throw new ArgumentException($"no legacy-to-modern rule matches '{legacy}'", nameof(legacy));
    }

    [TestCaseSource(nameof(Checkpoints))]
    public void MetaModelStateDictEqualsTheDerivedManifest(Checkpoint c)
    {
        using var model = MetaModel(c);
        var state = model.state_dict();
        Assert.That(state.Values.All(t => t.device_type == DeviceType.META), "every tensor on the meta device (nothing allocated)");
        Assert.That(state.Values.All(t => t.dtype == ScalarType.Float16), "every tensor in float16");
        var actual = state.Select(kv => Line(kv.Key, kv.Value.shape)).Order(StringComparer.Ordinal).ToArray();
        var expected = ManifestLines(c.Manifest);
        Assert.That(expected, Has.Length.EqualTo(TensorCount), c.Manifest);
        Assert.That(actual.Except(expected), Is.Empty, "in the module, not in the manifest");
        Assert.That(expected.Except(actual), Is.Empty, "in the manifest, not in the module");
        Assert.That(actual, Is.EqualTo(expected));
        Assert.That(state.Values.Sum(t => t.numel()), Is.EqualTo(c.Parameters), "llava.md §1");
    }

    /// <summary>Both spellings a checkpoint may use reach every module key through the loader's key map: the legacy
    /// names of the manifest, and the transformers ≥ 4.52 names rewritten from them here.</summary>
    [Test]
    public void LegacyAndModernNamesMapOntoTheModuleThroughTheHfKeyMap([ValueSource(nameof(Checkpoints))] Checkpoint c, [Values] bool modern)
    {
        using var model = MetaModel(c);
        var state = model.state_dict();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in ManifestLines(c.Manifest))
        {
            var parts = line.Split('\t');
            string name = modern ? ToModern(parts[0]) : parts[0];
            Assert.That(LlavaKeyMaps.Hf.IsIgnored(name), Is.False, name);
            string mapped = LlavaKeyMaps.Hf.Map(name);
            Assert.That(state.ContainsKey(mapped), $"'{name}' maps to '{mapped}', which the module does not have");
            Assert.That(Line(mapped, state[mapped].shape), Is.EqualTo(mapped + "\t" + parts[1]), $"shape of {name}");
            Assert.That(seen.Add(mapped), $"two names map to '{mapped}'");
        }
        Assert.That(seen, Has.Count.EqualTo(state.Count), "every module key is reached");
    }

    [Test]
    public void ModernRenameCoversImageNewlineAndRefusesUnknownNames()
    {
        Assert.That(ToModern("image_newline"), Is.EqualTo("model.image_newline"));
        Assert.That(ToModern("language_model.lm_head.weight"), Is.EqualTo("lm_head.weight"));
        Assert.Throws<ArgumentException>(() => ToModern("model.norm.weight"));
    }

    [TestCaseSource(nameof(Checkpoints))]
    public void TheDerivedManifestIsSortedCountedAndPinned(Checkpoint c)
    {
        var lines = ManifestLines(c.Manifest);
        Assert.That(lines, Has.Length.EqualTo(TensorCount));
        var names = lines.Select(l => l.Split('\t')[0]).ToArray();
        Assert.That(names, Is.Unique);
        Assert.That(names, Is.Ordered.Using((IComparer<string>)StringComparer.Ordinal));
        long total = 0;
        foreach (var line in lines)
        {
            var parts = line.Split('\t');
            Assert.That(parts, Has.Length.EqualTo(2), $"{c.Manifest}: '{line}' is not 'name<TAB>[d0, ...]'");
            total += parts[1][1..^1].Split(", ").Select(long.Parse).Aggregate(1L, (a, d) => a * d);
        }
        Assert.That(total, Is.EqualTo(c.Parameters), "llava.md §1");
        // An intended change regenerates the file with the script and updates this hash (line endings normalised,
        // so a CRLF checkout still matches).
        var text = File.ReadAllText(Data("manifests", c.Manifest)).ReplaceLineEndings("\n");
        Assert.That(text.EndsWith('\n'), "every line ends in \\n");
        Assert.That(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text))), Is.EqualTo(c.Sha256), c.Manifest);
    }

    /// <summary>The vicuna NeXT is llava-1.5-7b-hf's architecture plus image_newline [4096] (llava.md §1, §3.1), so
    /// its derived manifest must be the approved 1.5 manifest (from a real Hub index) with that one line added.</summary>
    [Test]
    public void VicunaManifestIsTheApprovedLlava15ManifestPlusImageNewline()
    {
        var vicuna = ManifestLines(Vicuna.Manifest);
        var llava15 = ManifestLines("llava-1.5-7b-hf.legacy.txt");
        Assert.That(vicuna.Where(l => !l.StartsWith("image_newline\t", StringComparison.Ordinal)), Is.EqualTo(llava15));
        Assert.That(vicuna, Does.Contain("image_newline\t[4096]"));
    }

    /// <summary>The Mistral NeXT has the vicuna names; only the decoder's grouped-query k/v (8 heads of 128) and its
    /// 14,336-wide MLP differ (llava.md §3.2).</summary>
    [Test]
    public void MistralManifestDiffersFromVicunaOnlyInKvAndMlpWidths()
    {
        var vicuna = ManifestLines(Vicuna.Manifest).Select(l => l.Split('\t')).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        var mistral = ManifestLines(Mistral.Manifest).Select(l => l.Split('\t')).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        Assert.That(mistral.Keys, Is.EquivalentTo(vicuna.Keys));
        var expectedChanges = new Dictionary<string, string>
        {
            ["self_attn.k_proj.weight"] = "[1024, 4096]",
            ["self_attn.v_proj.weight"] = "[1024, 4096]",
            ["mlp.gate_proj.weight"] = "[14336, 4096]",
            ["mlp.up_proj.weight"] = "[14336, 4096]",
            ["mlp.down_proj.weight"] = "[4096, 14336]",
        };
        var layer = new Regex(@"^language_model\.model\.layers\.([0-9]+)\.(.+)$");
        int changed = 0;
        foreach (var (name, shape) in mistral)
        {
            var m = layer.Match(name);
            if (m.Success && expectedChanges.TryGetValue(m.Groups[2].Value, out var expected))
            {
                Assert.That(shape, Is.EqualTo(expected), name);
                changed++;
            }
            else
            {
                Assert.That(shape, Is.EqualTo(vicuna[name]), name);
            }
        }
        Assert.That(changed, Is.EqualTo(32 * expectedChanges.Count), "five tensors in each of the 32 layers");
    }
}
