using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace PioFvlm.Core.Runtime;

/// <summary>The address of a tensor's first element, for the managed kernels (TorchSharp exposes no data pointer; its
/// native library exports <c>THSTensor_data</c>).</summary>
internal static unsafe class TensorData
{
    static readonly Lazy<IntPtr> DataFunction = new(Resolve);

    /// <summary>Whether <see cref="Pointer"/> works in this process.</summary>
    public static bool Available => DataFunction.Value != IntPtr.Zero;

    /// <summary>The first element's address; the tensor must stay alive (and unmoved) while it is used.</summary>
    public static void* Pointer(Tensor tensor) => ((delegate* unmanaged[Cdecl]<IntPtr, void*>)DataFunction.Value)(tensor.Handle);

    static IntPtr Resolve()
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
