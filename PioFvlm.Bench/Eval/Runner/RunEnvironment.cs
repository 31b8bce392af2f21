using System.Diagnostics;
using System.Reflection;
using System.Text.Json.Nodes;
using TorchSharp;

namespace PioFvlm.Bench.Eval.Runner;

/// <summary>What produced the answers: git commit (when the binary sits in a git checkout), TorchSharp and libtorch, threads.</summary>
public static class RunEnvironment
{
    public static JsonObject Describe(RunOptions run) => new()
    {
        ["git_commit"] = GitCommit(),
        ["pio_fvlm"] = typeof(RunEnvironment).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion,
        ["torchsharp"] = typeof(torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                         ?? typeof(torch).Assembly.GetName().Version?.ToString(),
        ["libtorch"] = LibTorchPackage(),
        ["libtorch_path"] = LibTorchPath(),
        ["dotnet"] = Environment.Version.ToString(),
        ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
        ["device"] = run.Model.Device,
        ["dtype"] = run.Model.DType.ToString(),
        ["torch_threads"] = torch.get_num_threads(),
        ["processors"] = Environment.ProcessorCount,
        ["started_utc"] = DateTime.UtcNow.ToString("O"),
    };

    /// <summary>The loaded libtorch library's path (its folder names the package version).</summary>
    static string? LibTorchPath()
    {
        try
        {
            return Process.GetCurrentProcess().Modules.Cast<ProcessModule>()
                .Select(m => m.FileName).FirstOrDefault(f => Path.GetFileName(f).StartsWith("libtorch.", StringComparison.Ordinal) || Path.GetFileName(f) == "torch.dll");
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>The libtorch package and version this binary was built with (from its deps.json), e.g. libtorch-cpu-linux-x64/2.10.0.</summary>
    static string? LibTorchPackage()
    {
        try
        {
            string? deps = Directory.GetFiles(AppContext.BaseDirectory, "*.deps.json").FirstOrDefault();
            if (deps is null) return null;
            var libraries = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(deps))?["libraries"]?.AsObject();
            return libraries?.Select(l => l.Key).FirstOrDefault(k => k.StartsWith("libtorch-", StringComparison.OrdinalIgnoreCase));
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    static string? GitCommit()
    {
        try
        {
            var psi = new ProcessStartInfo("git", ["-C", AppContext.BaseDirectory, "rev-parse", "HEAD"])
            { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var p = Process.Start(psi);
            if (p is null) return null;
            string output = p.StandardOutput.ReadToEnd().Trim();
            if (!p.WaitForExit(5000)) return null;
            return p.ExitCode == 0 && output.Length > 0 ? output : null;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return null;
        }
    }
}
