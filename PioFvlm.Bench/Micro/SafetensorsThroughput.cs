using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using PioFvlm.Bench.Commands;
using PioFvlm.Core.IO.Safetensors;
using PioFvlm.Core.Runtime;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Micro;

/// <summary>
/// <c>pio-fvlm io-throughput [GB] [directory]</c>: writes a safetensors file of about GB gigabytes (default 2, in the
/// temp folder), evicts it from the page cache where the OS allows, reads it back twice (the second read from the
/// page cache), and prints GB/s for each pass with peak managed memory and peak RSS. The file is deleted after.
/// </summary>
public static class SafetensorsThroughput
{
    const int TensorCount = 16;
    const int PosixFadvDontNeed = 4;

    public static readonly CommandSyntax Syntax = new("io-throughput", [])
    {
        Arguments = [new("GB", "file size in gigabytes (default 2)", Required: false), new("DIR", "folder for the file (default: the temp folder)", Required: false)],
    };

    public static int Run(string[] args)
    {
        var a = new ArgReader(args, Syntax);
        double gigabytes = a.Positional.Count > 0 ? Gigabytes(a.Positional[0]) : 2.0;
        string directory = a.Positional.Count > 1 ? a.Positional[1] : Path.GetTempPath();
        TorchRuntime.EnsureLoaded();

        long elementsPerTensor = (long)(gigabytes * 1e9 / sizeof(float) / TensorCount);
        long totalBytes = elementsPerTensor * sizeof(float) * TensorCount;
        string path = Path.Combine(directory, $"piofvlm-io-throughput-{Guid.NewGuid():N}.safetensors");
        using var managed = new ManagedPeak();
        try
        {
            Console.WriteLine($"file {path}: {TensorCount} F32 tensors, {totalBytes / 1e9:F2} GB");
            float[] probe;
            using (var scope = NewDisposeScope())
            {
                var tensors = Enumerable.Range(0, TensorCount).Select(i => ($"t{i}", rand(elementsPerTensor))).ToList();
                probe = tensors[^1].Item2[..1000].data<float>().ToArray();
                ResetPeakRss();
                managed.Reset();
                var write = Stopwatch.StartNew();
                SafetensorsWriter.Write(path, tensors);
                write.Stop();
                Report("write (incl. fsync)", totalBytes, write.Elapsed, managed);
            }

            bool evicted = Evict(path);
            for (int pass = 1; pass <= 2; pass++)
            {
                ResetPeakRss();
                managed.Reset();
                var read = Stopwatch.StartNew();
                float[] check;
                using (var file = new SafetensorsFile(path))
                {
                    for (int i = 0; i < TensorCount - 1; i++) file.Load($"t{i}").Dispose();
                    using var last = file.Load($"t{TensorCount - 1}");
                    read.Stop();
                    check = last[..1000].data<float>().ToArray();
                }
                if (!check.SequenceEqual(probe))
                {
                    Console.Error.WriteLine("read-back differs from what was written");
                    return 1;
                }
                string source = pass == 2 ? "page cache" : evicted ? "disk (evicted with posix_fadvise)" : "page cache (could not evict)";
                Report($"read {pass} from {source}", totalBytes, read.Elapsed, managed);
            }
            return 0;
        }
        finally
        {
            File.Delete(path);
        }
    }

    static double Gigabytes(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double gb) && gb > 0 && double.IsFinite(gb)
            ? gb : throw new UsageException($"GB: '{text}' is not a positive number of gigabytes");

    static void Report(string what, long bytes, TimeSpan elapsed, ManagedPeak managed) =>
        Console.WriteLine($"{what,-42} {bytes / 1e9 / elapsed.TotalSeconds,6:F2} GB/s  ({elapsed.TotalSeconds:F2} s)  " +
                          $"peak managed {managed.PeakBytes / 1e6:F1} MB  peak RSS {PeakRssText()}");

    /// <summary>Asks the kernel to drop the file's cached pages so the next read comes from disk (Linux only).</summary>
    static bool Evict(string path)
    {
        if (!OperatingSystem.IsLinux()) return false;
        using var handle = File.OpenHandle(path);
        return PosixFadvise((int)handle.DangerousGetHandle(), 0, 0, PosixFadvDontNeed) == 0;
    }

    [DllImport("libc", EntryPoint = "posix_fadvise")]
    static extern int PosixFadvise(int fd, long offset, long length, int advice);

    /// <summary>Writing 5 to clear_refs resets VmHWM, so each phase reports its own peak (Linux 4.0+).</summary>
    static void ResetPeakRss()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    static string PeakRssText()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return "n/a";
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line == null ? "n/a" : line["VmHWM:".Length..].Trim();
    }

    /// <summary>Samples the managed heap size every millisecond; GC.GetTotalMemory alone would only see the end.</summary>
    sealed class ManagedPeak : IDisposable
    {
        readonly Thread _thread;
        volatile bool _stop;
        long _peak;

        public ManagedPeak()
        {
            _thread = new Thread(() =>
            {
                while (!_stop)
                {
                    long now = Math.Max(GC.GetTotalMemory(false), GC.GetGCMemoryInfo().HeapSizeBytes);
                    if (now > Interlocked.Read(ref _peak)) Interlocked.Exchange(ref _peak, now);
                    Thread.Sleep(1);
                }
            }) { IsBackground = true };
            _thread.Start();
        }

        public long PeakBytes => Interlocked.Read(ref _peak);
        public void Reset() => Interlocked.Exchange(ref _peak, GC.GetTotalMemory(false));

        public void Dispose()
        {
            _stop = true;
            _thread.Join();
        }
    }
}
