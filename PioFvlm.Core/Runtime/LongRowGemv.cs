using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Core.Runtime;

/// <summary>
/// One-row bf16 products <c>y = x Wᵀ</c> with long rows (in-features ≥ <see cref="MinInFeatures"/>: a decoder's down
/// projection), computed by a managed AVX-512 kernel instead of ATen's gemv. ATen's bf16 gemv streams the weight at
/// ~35 GB/s up to ~5.5k in-features on this project's machine (AMD EPYC, 32 KiB L1d per core) but at ~22 GB/s from
/// 6k on (4096 x 11008: 4.0 ms against 2.6 ms for the same bytes as 11008 x 4096); splitting the product into
/// contiguous halves restores the speed but needs another copy of the weight. This kernel reads W as it lies, eight
/// rows at a time with a software prefetch, widening bf16 to fp32 and accumulating in fp32, at ~34 GB/s for any row
/// length (same process, 2 threads). Short rows stay with ATen, which is ~10 % faster there.
/// </summary>
/// <remarks>
/// Rounding: each output is an fp32 sum in another order than ATen's, rounded once to bf16, so outputs can differ from
/// ATen's in the last bf16 bit. Used inside <see cref="OneRowGemv"/> scopes only (a decode step); anything it does not
/// cover (another dtype or device, a non-contiguous operand, sizes not multiples of 32 and 8, no AVX-512) returns
/// false from <see cref="Applies"/> and the caller takes libtorch.
/// </remarks>
public static unsafe class LongRowGemv
{
    /// <summary>Shortest row (in-features) handed to the managed kernel.</summary>
    public const long MinInFeatures = 6144;

    const int RowsPerBlock = 8;
    const int PrefetchUInts = 128;   // 512 bytes ahead in each of the eight rows

    static readonly Lazy<IntPtr> DataFunction = new(ResolveData);

    /// <summary>Whether the kernel handles <c>linear(x, weight)</c>: one bf16 CPU row, contiguous operands, long rows.</summary>
    public static bool Applies(Tensor x, Tensor weight)
    {
        if (!Vector512.IsHardwareAccelerated || DataFunction.Value == IntPtr.Zero) return false;
        if (x.dtype != ScalarType.BFloat16 || weight.dtype != ScalarType.BFloat16) return false;
        if (x.device_type != DeviceType.CPU || weight.device_type != DeviceType.CPU) return false;
        if (weight.dim() != 2 || !weight.is_contiguous() || !x.is_contiguous()) return false;
        long outFeatures = weight.shape[0], inFeatures = weight.shape[1];
        return inFeatures >= MinInFeatures && inFeatures % 32 == 0 && outFeatures % RowsPerBlock == 0
               && x.shape[^1] == inFeatures && x.numel() == inFeatures;
    }

    /// <summary><c>x Wᵀ (+ bias)</c> for one row, shaped like <c>linear</c>'s output; call only where <see cref="Applies"/>.</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        long outFeatures = weight.shape[0], inFeatures = weight.shape[1];
        var shape = x.shape.ToArray();
        shape[^1] = outFeatures;
        var sums = empty(shape, ScalarType.Float32);
        var xs = new float[inFeatures];
        var w = (uint*)Data(weight);
        var y = (float*)Data(sums);
        DeinterleaveToFloat((ushort*)Data(x), inFeatures, xs);
        fixed (float* xp = xs)
        {
            nint wAddress = (nint)w, xAddress = (nint)xp, yAddress = (nint)y;
            long blocks = outFeatures / RowsPerBlock;
            int parts = (int)Math.Min(Math.Max(1, get_num_threads()), blocks);
            if (parts == 1) Rows((uint*)wAddress, inFeatures, (float*)xAddress, (float*)yAddress, 0, outFeatures);
            else
                Parallel.For(0, parts, part =>
                {
                    long first = blocks * part / parts * RowsPerBlock, last = blocks * (part + 1) / parts * RowsPerBlock;
                    Rows((uint*)wAddress, inFeatures, (float*)xAddress, (float*)yAddress, first, last);
                });
        }
        GC.KeepAlive(xs);
        using (sums)
        {
            var result = sums.to_type(ScalarType.BFloat16);
            if (bias is not null) result.add_(bias);
            return result;
        }
    }

    /// <summary>
    /// bf16 → fp32 with each block of 32 split into its 16 even then 16 odd elements: the kernel reads the weight as
    /// uint pairs (even element = low half, odd = high half) and needs x in that order.
    /// </summary>
    static void DeinterleaveToFloat(ushort* x, long length, float[] xs)
    {
        for (long block = 0; block < length; block += 32)
            for (int j = 0; j < 16; j++)
            {
                xs[block + j] = BitConverter.Int32BitsToSingle(x[block + 2 * j] << 16);
                xs[block + 16 + j] = BitConverter.Int32BitsToSingle(x[block + 2 * j + 1] << 16);
            }
    }

    /// <summary>y[r] = Σ_i W[r, i] x[i] for rows first..last (multiples of 8), fp32 accumulation. The eight
    /// accumulators are locals, not an array, so that they stay in registers.</summary>
    static void Rows(uint* weight, long inFeatures, float* xs, float* y, long first, long last)
    {
        long pairs = inFeatures / 2;   // uints per row
        for (long r = first; r < last; r += RowsPerBlock)
        {
            uint* a = weight + r * pairs;
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
            for (long i = 0; i < pairs; i += 16)
            {
                var xEven = Vector512.Load(xs + 2 * i);
                var xOdd = Vector512.Load(xs + 2 * i + 16);
                bool prefetch = i + PrefetchUInts < pairs;
                s0 = Step(a + i, xEven, xOdd, s0, prefetch);
                s1 = Step(a + pairs + i, xEven, xOdd, s1, prefetch);
                s2 = Step(a + 2 * pairs + i, xEven, xOdd, s2, prefetch);
                s3 = Step(a + 3 * pairs + i, xEven, xOdd, s3, prefetch);
                s4 = Step(a + 4 * pairs + i, xEven, xOdd, s4, prefetch);
                s5 = Step(a + 5 * pairs + i, xEven, xOdd, s5, prefetch);
                s6 = Step(a + 6 * pairs + i, xEven, xOdd, s6, prefetch);
                s7 = Step(a + 7 * pairs + i, xEven, xOdd, s7, prefetch);
            }
            y[r] = Vector512.Sum(s0); y[r + 1] = Vector512.Sum(s1); y[r + 2] = Vector512.Sum(s2); y[r + 3] = Vector512.Sum(s3);
            y[r + 4] = Vector512.Sum(s4); y[r + 5] = Vector512.Sum(s5); y[r + 6] = Vector512.Sum(s6); y[r + 7] = Vector512.Sum(s7);
        }
    }

    /// <summary>32 weights of one row (16 uint pairs) times x: the even element of a pair is its low half, shifted up
    /// into an fp32's high bits; the odd one is the high half with the low bits cleared.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Step(uint* row, Vector512<float> xEven, Vector512<float> xOdd, Vector512<float> sum, bool prefetch)
    {
        if (prefetch) Sse.Prefetch0(row + PrefetchUInts);
        var packed = Vector512.Load(row);
        sum = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(packed, 16).AsSingle(), xEven, sum);
        return Vector512.FusedMultiplyAdd((packed & Vector512.Create(0xFFFF0000u)).AsSingle(), xOdd, sum);
    }

    static void* Data(Tensor tensor) => ((delegate* unmanaged[Cdecl]<IntPtr, void*>)DataFunction.Value)(tensor.Handle);

    /// <summary>TorchSharp's native <c>THSTensor_data</c> (the tensor's first element), or zero where it is missing.</summary>
    static IntPtr ResolveData()
    {
        TorchRuntime.EnsureLoaded();
        foreach (var name in new[] { "libLibTorchSharp.so", "libLibTorchSharp.dylib", "LibTorchSharp" })
            if ((NativeLibrary.TryLoad(name, typeof(TorchSharp.torch).Assembly, DllImportSearchPath.SafeDirectories | DllImportSearchPath.AssemblyDirectory, out var library)
                 || NativeLibrary.TryLoad(name, out library))
                && NativeLibrary.TryGetExport(library, "THSTensor_data", out var function))
                return function;
        return IntPtr.Zero;
    }
}
