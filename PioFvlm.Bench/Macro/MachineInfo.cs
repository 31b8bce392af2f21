using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace PioFvlm.Bench.Macro;

/// <summary>The machine a measurement ran on, recorded at measurement time (absolute times mean nothing without it).</summary>
public sealed record MachineInfo(string Cpu, int Cores, double MemoryGiB, string Os, string DotNet, string TorchSharp,
                                 string Libtorch, int TorchThreads, string DateUtc)
{
    public static MachineInfo Current(int torchThreads) => new(
        CpuModel(), Environment.ProcessorCount, MemTotalGiB(), RuntimeInformation.OSDescription,
        RuntimeInformation.FrameworkDescription, TorchSharpVersion(), LibtorchVersion(), torchThreads,
        DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture));

    static string CpuModel()
    {
        const string file = "/proc/cpuinfo";
        if (!File.Exists(file)) return RuntimeInformation.ProcessArchitecture.ToString();
        var line = File.ReadLines(file).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line == null ? "unknown CPU" : line[(line.IndexOf(':') + 1)..].Trim();
    }

    static double MemTotalGiB()
    {
        const string file = "/proc/meminfo";
        if (!File.Exists(file)) return 0;
        var line = File.ReadLines(file).FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        return line == null ? 0 : long.Parse(line["MemTotal:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1048576.0;
    }

    static string TorchSharpVersion()
    {
        var assembly = typeof(TorchSharp.torch).Assembly;
        string? informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        return (informational ?? assembly.GetName().Version?.ToString() ?? "unknown").Split('+')[0];
    }

    /// <summary>The libtorch native package this program was built against, from its deps.json (the .so files carry no version).</summary>
    static string LibtorchVersion()
    {
        string deps = Path.Combine(AppContext.BaseDirectory, Assembly.GetEntryAssembly()?.GetName().Name + ".deps.json");
        if (!File.Exists(deps))
            deps = Directory.EnumerateFiles(AppContext.BaseDirectory, "*.deps.json").FirstOrDefault() ?? "";
        if (deps.Length == 0) return "unknown";
        using var doc = JsonDocument.Parse(File.ReadAllText(deps));
        if (!doc.RootElement.TryGetProperty("libraries", out var libraries)) return "unknown";
        foreach (var library in libraries.EnumerateObject())
            if (library.Name.StartsWith("libtorch-", StringComparison.OrdinalIgnoreCase))
                return library.Name;   // e.g. libtorch-cpu-linux-x64/2.10.0
        return "unknown";
    }
}
