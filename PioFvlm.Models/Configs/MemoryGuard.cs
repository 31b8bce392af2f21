using System.Globalization;
using TorchSharp;

namespace PioFvlm.Models.Configs;

/// <summary>Refuses to start a load that cannot fit in memory, with a message that says what to change, instead
/// of letting the process be killed half-way through a multi-GB read.</summary>
public static class MemoryGuard
{
    /// <summary>Headroom kept on top of the weights for activations, the KV cache and the runtime.</summary>
    public const double DefaultMargin = 0.10;

    /// <summary>Memory this process may still use, in bytes: Linux <c>MemAvailable</c> (capped by a cgroup v2
    /// limit when one is set), elsewhere <see cref="GC.GetGCMemoryInfo()"/>'s available total.</summary>
    public static long AvailableBytes()
    {
        if (OperatingSystem.IsLinux() && TryReadMemAvailable(out var available))
            return TryReadCgroupHeadroom(out var headroom) ? Math.Min(available, headroom) : available;
        var info = GC.GetGCMemoryInfo();
        return Math.Max(0, info.TotalAvailableMemoryBytes - info.MemoryLoadBytes);
    }

    /// <summary>Throws <see cref="InsufficientMemoryException"/> when <paramref name="bytesNeeded"/> plus the margin
    /// exceeds what this machine has available.</summary>
    public static void EnsureFits(long bytesNeeded, string what, string? hint = null) =>
        EnsureFits(bytesNeeded, what, AvailableBytes(), hint);

    /// <summary>As <see cref="EnsureFits(long, string, string?)"/> against a given availability (testable).</summary>
    public static void EnsureFits(long bytesNeeded, string what, long availableBytes, string? hint = null, double margin = DefaultMargin)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytesNeeded);
        ArgumentOutOfRangeException.ThrowIfNegative(margin);
        if (bytesNeeded * (1.0 + margin) <= availableBytes) return;
        var message = $"{what} needs ~{Gb(bytesNeeded)} GB; this machine has {Gb(availableBytes)} GB available " +
                      $"(a {margin * 100:0}% margin is kept for activations and the KV cache)";
        throw new InsufficientMemoryException(hint == null ? message : $"{message}; {hint}");
    }

    /// <summary>Checks that the weights of <paramref name="size"/> fit in <paramref name="dtype"/>; the message
    /// suggests BFloat16 when a wider dtype was asked for.</summary>
    public static void EnsureWeightsFit(ModelSize size, torch.ScalarType dtype, string modelName)
    {
        ArgumentNullException.ThrowIfNull(size);
        var hint = ModelSize.BytesPerElement(dtype) > 2
            ? $"use --dtype BFloat16 (~{Gb(size.Total * 2L)} GB) or a machine with more memory"
            : "use a machine with more memory";
        EnsureFits(size.Bytes(dtype), $"{modelName} in {dtype}", hint);
    }

    static string Gb(long bytes) => (bytes / 1e9).ToString("0.0", CultureInfo.InvariantCulture);

    static bool TryReadMemAvailable(out long bytes)
    {
        bytes = 0;
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (!line.StartsWith("MemAvailable:", StringComparison.Ordinal)) continue;
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var kb))
                {
                    bytes = kb * 1024;
                    return true;
                }
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return false;
    }

    // cgroup v2: limit minus what the group uses, not counting its page cache (reclaimable, like MemAvailable).
    static bool TryReadCgroupHeadroom(out long bytes)
    {
        bytes = 0;
        try
        {
            var max = File.ReadAllText("/sys/fs/cgroup/memory.max").Trim();
            var current = File.ReadAllText("/sys/fs/cgroup/memory.current").Trim();
            if (!long.TryParse(max, NumberStyles.Integer, CultureInfo.InvariantCulture, out var limit)
                || !long.TryParse(current, NumberStyles.Integer, CultureInfo.InvariantCulture, out var used))
                return false; // "max" means no limit
            long cache = 0;
            foreach (var line in File.ReadLines("/sys/fs/cgroup/memory.stat"))
                if (line.StartsWith("file ", StringComparison.Ordinal))
                    long.TryParse(line.AsSpan(5), NumberStyles.Integer, CultureInfo.InvariantCulture, out cache);
            bytes = Math.Max(0, limit - Math.Max(0, used - cache));
            return true;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return false;
    }
}
