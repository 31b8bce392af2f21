using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PioFvlm.Core.Runtime;

/// <summary>
/// A managed AVX-512 kernel over a row-major bf16 matrix W [out, in] that reads W once, as it lies: one x row times
/// Wᵀ, eight rows of W at a time, accumulating in fp32. The bf16 values are read as uint pairs: the even element of a
/// pair is its low half (shifted into an fp32's high bits), the odd one its high half (low bits cleared); so x lives
/// in a "split" fp32 layout where every block of 32 holds its 16 even then its 16 odd elements (<see cref="Split"/>).
/// Sizes: in a multiple of 32, out a multiple of 8; callers check them, the kernel does not.
/// </summary>
internal static unsafe class Bf16RowKernels
{
    const int PrefetchUInts = 128;   // 512 bytes ahead in each weight row (one-row kernel)

    /// <summary>bf16 [n] → split fp32 [n].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Split(ushort* source, long length, float* target)
    {
        for (long block = 0; block < length; block += 32)
            for (int j = 0; j < 16; j++)
            {
                target[block + j] = BitConverter.Int32BitsToSingle(source[block + 2 * j] << 16);
                target[block + 16 + j] = BitConverter.Int32BitsToSingle(source[block + 2 * j + 1] << 16);
            }
    }

    /// <summary>y[o] = Σ_i W[o, i] x[i] for o in first..last (multiples of 8); x split. The eight accumulators are
    /// locals, not an array, so that they stay in registers. Compiled optimized from the first call (no tier-0 code).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void OneRow(uint* w, long inFeatures, float* xs, float* y, long first, long last)
    {
        long pairs = inFeatures / 2;
        for (long r = first; r < last; r += 8)
        {
            uint* a = w + r * pairs;
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Step(uint* row, Vector512<float> xEven, Vector512<float> xOdd, Vector512<float> sum, bool prefetch)
    {
        if (prefetch) Sse.Prefetch0(row + PrefetchUInts);
        var packed = Vector512.Load(row);
        sum = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(packed, 16).AsSingle(), xEven, sum);
        return Vector512.FusedMultiplyAdd((packed & Vector512.Create(0xFFFF0000u)).AsSingle(), xOdd, sum);
    }
}
