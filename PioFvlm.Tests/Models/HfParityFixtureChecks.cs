using PioFvlm.Core.IO;

namespace PioFvlm.Tests.Models;

/// <summary>Structural checks of a family's committed HF parity fixtures, for the families whose port is not there yet.</summary>
internal static class HfParityFixtureChecks
{
    /// <summary>
    /// The model folder has config.json and a loadable model.safetensors; each reference file opens and holds the
    /// tensors every parity test reads, with batch-first ids and matching sequence lengths.
    /// </summary>
    public static void RequireWellFormed(string family, IReadOnlyList<string> referenceFiles, IReadOnlyList<string> required)
    {
        string dir = HfFixtures.Dir(family);
        Assert.That(File.Exists(Path.Combine(dir, "config.json")), $"{dir}: config.json missing");
        using (var weights = CheckpointSource.Open(dir))
            Assert.That(weights.Entries, Has.Count.GreaterThan(10), $"{dir}: model.safetensors holds too few tensors");
        foreach (string file in referenceFiles)
        {
            using var reference = HfFixtures.Open(family, file);
            foreach (string name in required)
                Assert.That(reference.Entries.ContainsKey(name), $"{family}/{file}: tensor '{name}' missing");
            var ids = reference.Entries["input_ids"].Shape;
            Assert.That(ids, Has.Length.EqualTo(2), $"{family}/{file}: input_ids must be [B, S]");
            Assert.That(reference.Entries["inputs_embeds"].Shape.Take(2), Is.EqualTo(ids), $"{family}/{file}: inputs_embeds [B, S, D] vs input_ids");
            Assert.That(reference.Entries["gen_tokens"].Shape, Is.EqualTo(new long[] { ids[0], 8 }), $"{family}/{file}: gen_tokens");
            if (reference.Entries.TryGetValue("logits", out var logits))
                Assert.That(logits.Shape.Take(2), Is.EqualTo(ids), $"{family}/{file}: logits [B, S, V] vs input_ids");
            TestContext.Out.WriteLine($"{family}/{file}: {reference.Entries.Count} tensors, input_ids [{string.Join(", ", ids)}]");
        }
    }
}
