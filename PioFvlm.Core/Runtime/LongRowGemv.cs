using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Core.Runtime;

/// <summary>
/// One-row bf16 products <c>y = x Wᵀ</c> with long rows (in-features ≥ <see cref="MinInFeatures"/>: a decoder's down
/// projection), computed by a managed AVX-512 kernel instead of ATen's gemv. ATen's bf16 gemv streams the weight at
/// ~35 GB/s up to ~5.5k in-features on this project's machine (AMD EPYC, 32 KiB L1d per core) but at ~22 GB/s from
/// 6k on (4096 x 11008: 4.0 ms against 2.6 ms for the same bytes as 11008 x 4096); splitting the product into
/// contiguous halves restores the speed but needs another copy of the weight. This kernel reads W as it lies, eight
/// rows at a time with a software prefetch (<see cref="Bf16RowKernels.OneRow"/>), widening bf16 to fp32 and accumulating
/// in fp32, at ~34 GB/s for any row length when measured alone (same process, 2 threads). Short rows stay with ATen,
/// which is ~10 % faster there. Inside a decode step it gets less (LLaVA-7B: 112 ms for the 32 down projections, ATen's
/// gemv 142 ms, gate 64 ms for the same bytes): it follows gate/up, whose libgomp workers keep spinning on the second
/// core for a while after their parallel region; with GOMP_SPINCOUNT=1000 it took 92 ms against gate's 84.
/// </summary>
/// <remarks>
/// Rounding: each output is an fp32 sum in another order than ATen's, rounded once to bf16, so outputs can differ from
/// ATen's in the last bf16 bit. Used inside <see cref="OneRowGemv"/> scopes only (a decode step); anything it does not
/// cover (another dtype or device, a non-contiguous operand, an operand that wants a gradient, sizes not multiples of
/// 32 and 8, no AVX-512) returns
/// false from <see cref="Applies"/> and the caller takes libtorch.
/// </remarks>
public static unsafe class LongRowGemv
{
    /// <summary>Shortest row (in-features) handed to the managed kernel.</summary>
    public const long MinInFeatures = 6144;

    const int RowsPerBlock = 8;

    /// <summary>Whether the kernel handles <c>linear(x, weight)</c>: one bf16 CPU row, contiguous operands, long rows.</summary>
    public static bool Applies(Tensor x, Tensor weight)
    {
        if (!Vector512.IsHardwareAccelerated || !TensorData.Available) return false;
        if (x.dtype != ScalarType.BFloat16 || weight.dtype != ScalarType.BFloat16) return false;
        if (x.device_type != DeviceType.CPU || weight.device_type != DeviceType.CPU) return false;
        if (weight.dim() != 2 || !weight.is_contiguous() || !x.is_contiguous()) return false;
        if (x.requires_grad || weight.requires_grad) return false;   // no autograd through the kernel
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
        using var sums = empty(shape, ScalarType.Float32);
        var split = new float[inFeatures];
        fixed (float* xp = split)
        {
            Bf16RowKernels.Split((ushort*)TensorData.Pointer(x), inFeatures, xp);
            nint w = (nint)TensorData.Pointer(weight), xs = (nint)xp, y = (nint)TensorData.Pointer(sums);
            long blocks = outFeatures / RowsPerBlock;
            int parts = (int)Math.Min(Math.Max(1, get_num_threads()), blocks);
            Parallel.For(0, parts, part =>
                Bf16RowKernels.OneRow((uint*)w, inFeatures, (float*)xs, (float*)y,
                                      blocks * part / parts * RowsPerBlock, blocks * (part + 1) / parts * RowsPerBlock));
        }
        var result = sums.to_type(ScalarType.BFloat16);
        if (bias is not null) result.add_(bias);
        return result;
    }
}
