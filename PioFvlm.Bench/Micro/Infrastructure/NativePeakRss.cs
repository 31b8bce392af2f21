namespace PioFvlm.Bench.Micro.Infrastructure;

/// <summary>The process's native peak resident set (Linux /proc/self/status VmHWM), which BenchmarkDotNet's memory
/// diagnoser does not see (it counts managed allocations only; tensors live in libtorch's native heap).</summary>
public static class NativePeakRss
{
    /// <summary>Peak RSS (or another /proc/self/status field in kB, e.g. VmRSS) in bytes, or null where /proc is missing.</summary>
    public static long? Bytes(string field = "VmHWM")
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return null;
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        if (line == null) return null;
        var parts = line[(field.Length + 1)..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;   // kB
    }

    /// <summary>Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+); false where that is refused.</summary>
    public static bool Reset()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public static string Text(string field = "VmHWM") => Bytes(field) is { } b ? $"{b / 1073741824.0:F2} GiB" : "n/a";
}
