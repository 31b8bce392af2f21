using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace PioFvlm.Bench.Macro;

/// <summary>
/// The machine's streaming read bandwidth as a decode step sees it: <paramref name="threads"/> threads each XOR-fold
/// their contiguous share of a 1 GiB buffer (far beyond the caches) with 512-bit loads; best of five passes. A decode
/// step must read every weight once, so weight bytes / this bandwidth is the shortest step the machine allows.
/// </summary>
public static class ReadBandwidth
{
    public static double GBps(int threads, long bytes = 1L << 30)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(checked((int)Math.Min(bytes, Array.MaxLength)));
        new Random(1).NextBytes(buffer.AsSpan(0, 4096));
        for (int i = 4096; i < buffer.Length; i += 4096) buffer[i] = (byte)i;   // touch every page once
        var lanes = MemoryMarshal.Cast<byte, Vector512<uint>>(buffer.AsSpan()).Length;
        double best = 0;
        uint sink = 0;
        for (int pass = 0; pass < 5; pass++)
        {
            var folds = new uint[threads];
            var clock = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                var vectors = MemoryMarshal.Cast<byte, Vector512<uint>>(buffer.AsSpan());
                int first = (int)((long)lanes * t / threads), last = (int)((long)lanes * (t + 1) / threads);
                Vector512<uint> a = default, b = default, c = default, d = default;
                int i = first;
                for (; i + 4 <= last; i += 4) { a ^= vectors[i]; b ^= vectors[i + 1]; c ^= vectors[i + 2]; d ^= vectors[i + 3]; }
                folds[t] = Vector512.Sum(a ^ b ^ c ^ d);
            });
            best = Math.Max(best, buffer.Length / clock.Elapsed.TotalSeconds / 1e9);
            foreach (var f in folds) sink ^= f;
        }
        GC.KeepAlive(sink);
        return best;
    }
}
