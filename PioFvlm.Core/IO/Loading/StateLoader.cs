using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PioFvlm.Core.IO.Loading;

/// <summary>
/// Copies a checkpoint into a module's parameters and persistent buffers by name. Keys and shapes are checked
/// against the headers first (no tensor data read); a strict load that finds any problem throws one
/// <see cref="StateLoadException"/> listing them all and leaves the module untouched.
/// </summary>
public static class StateLoader
{
    /// <param name="module">the module to fill; its <c>state_dict()</c> keys are the targets.</param>
    /// <param name="source">the checkpoint.</param>
    /// <param name="renames">checkpoint-to-module key conversion; identity when null.</param>
    /// <param name="strict">throw on any missing, unexpected, colliding or mis-shaped key; otherwise load what matches.</param>
    /// <param name="dtype">when set, the module's floating-point parameters and buffers are converted to it before
    /// loading (integer buffers keep their type); tensors are read converted to each target's dtype either way.</param>
    /// <returns>What was loaded and what did not match.</returns>
    /// <exception cref="StateLoadException"><paramref name="strict"/> and the checkpoint does not match the module.</exception>
    public static StateLoadReport Load(Module module, ITensorSource source, KeyMap? renames = null, bool strict = true,
        ScalarType? dtype = null)
    {
        renames ??= KeyMap.Identity;
        var targets = module.state_dict();
        var missing = new List<string>();
        var unexpected = new List<string>();
        var mismatched = new List<ShapeMismatch>();
        var collisions = new List<string>();
        var ignored = new List<string>();
        var sourceOf = new Dictionary<string, string>(StringComparer.Ordinal); // module key -> checkpoint key
        var plan = new List<(string CheckpointKey, string Key)>();

        foreach (var checkpointKey in source.Entries.Keys.Order(StringComparer.Ordinal))
        {
            if (renames.IsIgnored(checkpointKey))
            {
                ignored.Add(checkpointKey);
                continue;
            }
            string key = renames.Map(checkpointKey);
            if (!targets.TryGetValue(key, out var target))
            {
                unexpected.Add(key == checkpointKey ? checkpointKey : $"{checkpointKey} (renamed to '{key}')");
                continue;
            }
            if (sourceOf.TryGetValue(key, out var earlier))
            {
                collisions.Add($"{key} <- '{earlier}' and '{checkpointKey}'");
                continue;
            }
            sourceOf.Add(key, checkpointKey);
            long[] found = source.Entries[checkpointKey].Shape;
            if (!found.SequenceEqual(target.shape))
            {
                mismatched.Add(new ShapeMismatch(key, checkpointKey, target.shape, found));
                continue;
            }
            plan.Add((checkpointKey, key));
        }
        missing.AddRange(targets.Keys.Where(k => !sourceOf.ContainsKey(k)).Order(StringComparer.Ordinal));

        var report = new StateLoadReport(missing, unexpected, mismatched, collisions, ignored, plan.Count);
        if (strict && !report.IsComplete)
            throw new StateLoadException(Describe(source), report);

        if (dtype is { } d)
        {
            module.to(d);
            targets = module.state_dict(); // conversion replaces the parameter objects
        }
        // copy_ into a leaf that requires grad is only allowed with autograd off.
        using var noGrad = torch.no_grad();
        foreach (var (checkpointKey, key) in plan)
        {
            var target = targets[key];
            using var value = source.Load(checkpointKey, target.dtype, target.device);
            target.copy_(value);
        }
        return report;
    }

    static string Describe(ITensorSource source)
    {
        var files = source.Entries.Values.Select(e => e.File).Distinct().ToList();
        return files.Count switch
        {
            0 => "empty checkpoint",
            1 => files[0],
            _ => $"{Path.GetDirectoryName(files[0])} ({files.Count} files)",
        };
    }
}
