using System.Runtime.InteropServices;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PioFvlm.Core.Runtime;

/// <summary>
/// Routes one-row bf16/fp16 matrix products (a decode step's projections and LM head) to ATen's own gemv kernel
/// instead of oneDNN. libtorch 2.10 sends <c>linear(x[1, in], W[out, in])</c> in bf16 to oneDNN's brgemm, which repacks
/// the weight into VNNI blocks on every call; ATen's gemv streams <c>W</c> as it lies. Measured at the LLaVA-7B layer
/// shape on this project's 2-core AVX-512 machine, one thread, same process: 45 ms against 78 ms per layer (1.7x).
/// The switch is libtorch's process-wide <c>at::Context</c> "user enabled mkldnn" flag, reached through its exported
/// C++ symbols (Itanium ABI, Linux/macOS builds of libtorch); where they are missing (Windows) decode keeps oneDNN
/// (the other decode kernels below still apply).
/// </summary>
/// <remarks>
/// Only one-row work belongs inside a scope: for more rows, or the transposed layout of a backward pass, ATen's own
/// bf16 kernels are far slower than oneDNN's (measured: 4 rows 2.3x, the backward layout 25x). Because the flag is
/// process-wide, a bf16 prefill running on another thread while a decode step holds a scope takes those slower
/// kernels too (same fp32-accumulated math, other rounding); scopes nest and count, and the flag returns to its
/// previous value when the last one closes. fp32 and fp64 products never go through oneDNN here and are unaffected.
/// The same scope marks a decode step for the two other decode kernels: <see cref="LongRowGemv"/> (one-row products
/// with long rows, the down projection) and the one-query attention of <see cref="Nn.Attention.Attend"/>
/// (<see cref="OneQueryAttention"/>, or fp32 products where it does not apply).
/// Set <see cref="Enabled"/> to false (or the environment variable <c>PIOFVLM_DECODE_GEMV=onednn</c>) to keep
/// libtorch's defaults for all three (oneDNN products, ATen's gemv never used, SDPA attention): the "before" route of
/// the performance report.
/// </remarks>
public static class OneRowGemv
{
    const string GlobalContextSymbol = "_ZN2at13globalContextEv";
    const string SetFlagSymbol = "_ZN2at7Context20setUserEnabledMkldnnEb";
    const string GetFlagSymbol = "_ZNK2at7Context17userEnabledMkldnnEv";

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr GlobalContextFn();
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate void SetFlagFn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] [return: MarshalAs(UnmanagedType.U1)] delegate bool GetFlagFn(IntPtr context);

    static readonly object Gate = new();
    static readonly Lazy<(IntPtr Context, SetFlagFn Set, GetFlagFn Get)?> Native = new(Resolve);
    static int _depth;
    static bool _previous;

    /// <summary>Whether <see cref="Enter"/> switches to the decode kernels (default true unless PIOFVLM_DECODE_GEMV=onednn).</summary>
    public static bool Enabled { get; set; } =
        !string.Equals(Environment.GetEnvironmentVariable("PIOFVLM_DECODE_GEMV"), "onednn", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether this libtorch exposes the switch (false: <see cref="Enter"/> never changes anything).</summary>
    public static bool Available => Native.Value is not null;

    /// <summary>oneDNN's current state in libtorch (null where the switch is not available).</summary>
    public static bool? OneDnnEnabled
    {
        get
        {
            if (Native.Value is not { } n) return null;
            lock (Gate) return n.Get(n.Context);
        }
    }

    /// <summary>Whether a scope is open (a decode step is running somewhere in the process).</summary>
    public static bool InScope
    {
        get { lock (Gate) return _depth > 0; }
    }

    /// <summary>
    /// <c>layer(x)</c>, through <see cref="LongRowGemv"/> when a scope is open and the product is one long bf16 row
    /// (ATen's gemv slows down on rows that long), else the layer's own forward.
    /// </summary>
    public static Tensor Project(Linear layer, Tensor x) =>
        InScope && LongRowGemv.Applies(x, layer.weight!) ? LongRowGemv.Linear(x, layer.weight!, layer.bias) : layer.forward(x);

    /// <summary>A decode-step scope: one-row products take ATen's gemv (or <see cref="LongRowGemv"/>) and one-query
    /// attention takes <see cref="OneQueryAttention"/> (see <see cref="Nn.Attention.Attend"/>); dispose it to restore
    /// libtorch's defaults. A no-op when
    /// <see cref="Enabled"/> is false; without the native switch (Windows) only the oneDNN part is skipped.</summary>
    public static IDisposable Enter()
    {
        if (!Enabled) return NoScope.Instance;
        var native = Native.Value;
        lock (Gate)
        {
            if (_depth++ == 0 && native is { } n)
            {
                _previous = n.Get(n.Context);
                n.Set(n.Context, false);
            }
        }
        return new Scope(native);
    }

    sealed class Scope((IntPtr Context, SetFlagFn Set, GetFlagFn Get)? native) : IDisposable
    {
        bool _closed;

        public void Dispose()
        {
            lock (Gate)
            {
                if (_closed) return;
                _closed = true;
                if (--_depth == 0 && native is { } n) n.Set(n.Context, _previous);
            }
        }
    }

    sealed class NoScope : IDisposable
    {
        public static readonly NoScope Instance = new();
        public void Dispose() { }
    }

    static (IntPtr, SetFlagFn, GetFlagFn)? Resolve()
    {
        TorchRuntime.EnsureLoaded();
        foreach (var name in new[] { "libtorch_cpu.so", "libtorch_cpu.dylib", "libtorch_cpu" })
        {
            if (!NativeLibrary.TryLoad(name, typeof(TorchSharp.torch).Assembly, DllImportSearchPath.SafeDirectories | DllImportSearchPath.AssemblyDirectory, out var library)
                && !NativeLibrary.TryLoad(name, out library))
                continue;
            if (NativeLibrary.TryGetExport(library, GlobalContextSymbol, out var globalContext)
                && NativeLibrary.TryGetExport(library, SetFlagSymbol, out var set)
                && NativeLibrary.TryGetExport(library, GetFlagSymbol, out var get))
            {
                var context = Marshal.GetDelegateForFunctionPointer<GlobalContextFn>(globalContext)();
                return (context, Marshal.GetDelegateForFunctionPointer<SetFlagFn>(set), Marshal.GetDelegateForFunctionPointer<GetFlagFn>(get));
            }
        }
        return null;
    }
}
