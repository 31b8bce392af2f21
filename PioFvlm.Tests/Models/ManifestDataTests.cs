using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace PioFvlm.Tests.Models;

/// <summary>
/// Guards the approved key/shape manifests of llava-hf/llava-1.5-7b-hf (TestData/manifests, see its README).
/// The model tests compare meta-device models against these files, so the files themselves must not drift:
/// each check here uses a source independent of the file it checks (the raw Hub index, the spec's parameter
/// count, rename rules written out below, pinned hashes).
/// </summary>
public class ManifestDataTests
{
    private const int TensorCount = 686;

    // Spec section 1: 7,063,427,072 parameters, stored as F16, so total_size = 2 bytes per parameter.
    private const long ParameterCount = 7_063_427_072;

    // Spec section 3.3, written out here rather than taken from the loader so that the test stays an oracle.
    private static readonly (Regex Legacy, string Modern)[] LegacyToModern =
    [
        (new Regex(@"^language_model\.model\."), "model.language_model."),
        (new Regex(@"^language_model\.lm_head\."), "lm_head."),
        (new Regex(@"^vision_tower\."), "model.vision_tower."),
        (new Regex(@"^multi_modal_projector\."), "model.multi_modal_projector."),
    ];

    private static string ManifestPath(string file) =>
        Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "manifests", file);

    private static List<(string Name, long[] Shape)> ReadManifest(string file)
    {
        var path = ManifestPath(file);
        var rows = new List<(string, long[])>();
        var lineNumber = 0;
        foreach (var line in File.ReadAllLines(path))
        {
            lineNumber++;
            var parts = line.Split('\t');
            if (parts.Length != 2 || !parts[1].StartsWith('[') || !parts[1].EndsWith(']'))
            {
                throw new FormatException($"{path}:{lineNumber}: expected 'name<TAB>[d0, d1, ...]', got '{line}'");
            }

            var dims = parts[1][1..^1].Split(", ").Select(long.Parse).ToArray();
            rows.Add((parts[0], dims));
        }

        return rows;
    }

    [TestCase("llava-1.5-7b-hf.legacy.txt")]
    [TestCase("llava-1.5-7b-hf.modern.txt")]
    public void ManifestHasOneOrdinalSortedLinePerTensor(string file)
    {
        var names = ReadManifest(file).Select(r => r.Name).ToList();

        Assert.That(names, Has.Count.EqualTo(TensorCount), file);
        Assert.That(names, Is.Unique, file);
        for (var i = 1; i < names.Count; i++)
        {
            Assert.That(string.CompareOrdinal(names[i - 1], names[i]), Is.LessThan(0),
                $"{file}: '{names[i - 1]}' must come before '{names[i]}' in ordinal order");
        }
    }

    [TestCase("llava-1.5-7b-hf.legacy.txt")]
    [TestCase("llava-1.5-7b-hf.modern.txt")]
    public void ShapesAddUpToTheSpecParameterCount(string file)
    {
        var total = ReadManifest(file).Sum(r => r.Shape.Aggregate(1L, (product, dim) => product * dim));

        Assert.That(total, Is.EqualTo(ParameterCount), file);
    }

    [Test]
    public void LegacyNamesAreExactlyTheHubIndexWeightMap()
    {
        using var index = JsonDocument.Parse(File.ReadAllText(ManifestPath("llava-1.5-7b-hf.model.safetensors.index.json")));
        var weightMap = index.RootElement.GetProperty("weight_map");
        var indexNames = weightMap.EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var manifestNames = ReadManifest("llava-1.5-7b-hf.legacy.txt").Select(r => r.Name).ToHashSet(StringComparer.Ordinal);

        Assert.That(weightMap.EnumerateObject().Count(), Is.EqualTo(TensorCount), "weight_map entries");
        Assert.That(manifestNames.Except(indexNames), Is.Empty, "in the manifest but not in the Hub index");
        Assert.That(indexNames.Except(manifestNames), Is.Empty, "in the Hub index but not in the manifest");

        // The Hub's byte count is an independent check on the shapes: F16 everywhere, 2 bytes per parameter.
        var totalSize = index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64();
        Assert.That(totalSize, Is.EqualTo(2 * ParameterCount), "metadata.total_size");
    }

    [Test]
    public void ModernManifestIsTheLegacyManifestRenamed()
    {
        var expected = ReadManifest("llava-1.5-7b-hf.legacy.txt")
            .Select(r => (Name: ToModern(r.Name), r.Shape))
            .OrderBy(r => r.Name, StringComparer.Ordinal)
            .Select(r => $"{r.Name}\t[{string.Join(", ", r.Shape)}]")
            .ToList();
        var actual = File.ReadAllLines(ManifestPath("llava-1.5-7b-hf.modern.txt"));

        Assert.That(actual, Is.EqualTo(expected));
    }

    [Test]
    public void ModernRenameHandlesEveryPartOfTheModel()
    {
        Assert.That(ToModern("language_model.model.layers.0.self_attn.q_proj.weight"),
            Is.EqualTo("model.language_model.layers.0.self_attn.q_proj.weight"));
        Assert.That(ToModern("language_model.lm_head.weight"), Is.EqualTo("lm_head.weight"));
        Assert.That(ToModern("vision_tower.vision_model.pre_layrnorm.bias"),
            Is.EqualTo("model.vision_tower.vision_model.pre_layrnorm.bias"));
        Assert.That(ToModern("multi_modal_projector.linear_2.bias"), Is.EqualTo("model.multi_modal_projector.linear_2.bias"));
        Assert.Throws<ArgumentException>(() => ToModern("model.norm.weight"));
    }

    // Pinned so that any edit, even one that keeps the counts (say, swapping the gate and down shapes), fails here
    // and has to be approved again on purpose. Line endings are normalised so a CRLF checkout still matches.
    [TestCase("llava-1.5-7b-hf.legacy.txt", "feb2e9be220faf8a3c3c9309e86a647362939f828ce0d49dd7bc6767ee0994a0")]
    [TestCase("llava-1.5-7b-hf.modern.txt", "ab525f9620c4f1bb0d77b85253d5d9ae2b774193aa68186c39b81a9e286e7aa5")]
    [TestCase("llava-1.5-7b-hf.model.safetensors.index.json", "73af906b5ac12aea6eddf104d482d2a50bca30b20d61ee9f6c5269d3427a6991")]
    public void ApprovedFileIsUnchanged(string file, string sha256)
    {
        var text = File.ReadAllText(ManifestPath(file)).ReplaceLineEndings("\n");
        var actual = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

        Assert.That(actual, Is.EqualTo(sha256),
            $"{file} differs from the approved version; if the change is intended, re-approve it and update this hash");
    }

    private static string ToModern(string legacyName)
    {
        foreach (var (legacy, modern) in LegacyToModern)
        {
            if (legacy.IsMatch(legacyName))
            {
                return legacy.Replace(legacyName, modern, 1);
            }
        }

        throw new ArgumentException($"no legacy-to-modern rule matches '{legacyName}'", nameof(legacyName));
    }
}
