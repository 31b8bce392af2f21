using static TorchSharp.torch;

namespace PioFvlm.Core.IO.TorchPickle;

/// <summary>What an allowed global stands for. Globals are inert markers: nothing named in a pickle is ever called.</summary>
internal enum GlobalKind
{
    OrderedDict,
    RebuildTensorV2,
    RebuildParameter,
    RebuildParameterWithState,
    StorageType,
}

/// <summary>An allowed global as it sits on the unpickler stack.</summary>
internal sealed record PickleGlobal(string Module, string Name, GlobalKind Kind, ScalarType StorageDType = default)
{
    public string FullName => $"{Module}.{Name}";
}

/// <summary>
/// The allow-list of globals a torch.save state dict may name. Everything else (os.system, builtins.eval,
/// torch.nn.Module, ...) is refused at the GLOBAL opcode, before any later opcode could use it.
/// </summary>
internal static class TorchGlobals
{
    public static PickleGlobal? TryResolve(string module, string name)
    {
        switch (module, name)
        {
            case ("collections", "OrderedDict"): return new(module, name, GlobalKind.OrderedDict);
            case ("torch._utils", "_rebuild_tensor_v2"): return new(module, name, GlobalKind.RebuildTensorV2);
            case ("torch._utils", "_rebuild_parameter"): return new(module, name, GlobalKind.RebuildParameter);
            case ("torch._utils", "_rebuild_parameter_with_state"): return new(module, name, GlobalKind.RebuildParameterWithState);
        }
        if (module == "torch" && TorchStorageTypes.TryGetDType(name, out var dtype))
            return new(module, name, GlobalKind.StorageType, dtype);
        return null;
    }

    /// <summary>Names of every allowed global, for error messages.</summary>
    public static string AllowedList =>
        "collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, " +
        "torch._utils._rebuild_parameter_with_state, torch.<Float|Double|Half|BFloat16|Long|Int|Short|Char|Byte|Bool>Storage";
}
