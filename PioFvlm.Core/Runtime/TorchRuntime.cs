using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;

namespace PioFvlm.Core.Runtime;

/// <summary>
/// Loads libtorch once and turns TorchSharp's generic load failure into a message that names the library,
/// the missing version or file, and what to do.
/// </summary>
public static class TorchRuntime
{
    const string NeededGlibcxx = "GLIBCXX_3.4.32";
    static readonly object Gate = new();
    static bool _loaded;

    /// <summary>Loads the native libraries; throws <see cref="TorchLoadException"/> with a diagnosis on failure.</summary>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_loaded) return;
            try
            {
                // Any call into the native wrapper forces TorchSharp's loader (libtorch + libLibTorchSharp).
                torch.InitializeDeviceType(DeviceType.CPU);
                _loaded = true;
            }
            catch (Exception e) when (e is not TorchLoadException)
            {
                throw new TorchLoadException(Diagnose(e), e);
            }
        }
    }

    /// <summary>Builds the user-facing explanation of a failed load.</summary>
    internal static string Diagnose(Exception e)
    {
        var sb = new StringBuilder("libtorch could not be loaded by TorchSharp.");
        if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
        {
            string? wrapper = FindLoadedCandidate("libLibTorchSharp.so");
            string? stdcxx = new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6",
                                     "/usr/lib/aarch64-linux-gnu/libstdc++.so.6" }.FirstOrDefault(File.Exists);
            if (wrapper == null)
                sb.Append(" libLibTorchSharp.so was not found next to the application (runtimes/linux-x64/native):" +
                          " build with TorchBackend=Cpu (the default), or with TorchBackend=None put the directory that" +
                          " holds libtorch.so and libLibTorchSharp.so on LD_LIBRARY_PATH.");
            else if (stdcxx != null && !FileContains(stdcxx, NeededGlibcxx))
                sb.Append($" {wrapper} asks for {NeededGlibcxx}, which {stdcxx} does not provide." +
                          " The project's build marks that need weak; run `dotnet build` again (it patches the copy in the" +
                          " NuGet cache and in the output folder), or install a libstdc++ from GCC 13 or newer.");
            else
                sb.Append($" Wrapper: {wrapper}. Check that libtorch.so sits beside it or on LD_LIBRARY_PATH" +
                          " (run `LD_DEBUG=libs` on the program to see which file is missing).");
        }
        sb.Append(" Underlying error: ").Append(e.GetBaseException().Message);
        return sb.ToString();
    }

    static string? FindLoadedCandidate(string fileName)
    {
        string baseDir = AppContext.BaseDirectory;
        foreach (var dir in new[] { baseDir, Path.Combine(baseDir, "runtimes", "linux-x64", "native") })
        {
            string p = Path.Combine(dir, fileName);
            if (File.Exists(p)) return p;
        }
        return null;
    }

    static bool FileContains(string path, string text)
    {
        byte[] data = File.ReadAllBytes(path);
        byte[] needle = Encoding.ASCII.GetBytes(text);
        return data.AsSpan().IndexOf(needle) >= 0;
    }
}

/// <summary>libtorch failed to load; the message says why and what to do.</summary>
public sealed class TorchLoadException(string message, Exception inner) : Exception(message, inner);
