using System.Buffers.Binary;
using System.Text;
using static PioFvlm.Core.IO.TorchPickle.PickleOpcodes;

namespace PioFvlm.Core.IO.TorchPickle;

/// <summary>
/// A pickle virtual machine restricted to what a torch.save state dict needs. It builds plain values
/// (null, bool, long, double, string, <c>object?[]</c> tuples, <c>List&lt;object?&gt;</c>, <see cref="PickleDict"/>)
/// plus <see cref="TorchStorageRef"/> and <see cref="TorchTensorRef"/>. Globals come only from
/// <see cref="TorchGlobals"/> and are markers interpreted here; no code named by the pickle is ever run.
/// It never recurses, so nesting depth cannot exhaust the call stack; memo, mark depth and stack are bounded.
/// </summary>
internal sealed class RestrictedUnpickler
{
    public const int MaxMemoEntries = 1 << 22;
    public const int MaxMarkDepth = 1000;
    public const int MaxStackItems = 1 << 24;
    const int MaxGlobalNameBytes = 256;

    readonly byte[] _data;
    readonly string _file;
    int _pos;
    int _opAt;
    readonly List<object?> _stack = [];
    readonly Stack<int> _marks = new();
    readonly Dictionary<long, object?> _memo = [];
    readonly Dictionary<string, TorchStorageRef> _storages = new(StringComparer.Ordinal);

    RestrictedUnpickler(byte[] data, string file)
    {
        _data = data;
        _file = file;
    }

    /// <summary>Runs the pickle in <paramref name="data"/> (the bytes of data.pkl) up to STOP and returns its value.</summary>
    /// <param name="file">The checkpoint path, for error messages.</param>
    /// <exception cref="CheckpointFormatException">a refused global, an unknown opcode, a truncated or malformed pickle.</exception>
    public static object? Load(byte[] data, string file) => new RestrictedUnpickler(data, file).Run();

    object? Run()
    {
        while (true)
        {
            _opAt = _pos;
            byte op = ReadByte("an opcode (no STOP before the end)");
            switch (op)
            {
                case Proto:
                    byte version = ReadByte("the protocol number");
                    if (version > 5) Fail($"pickle protocol {version} is not supported");
                    break;
                case Frame: Read(8, "a frame length"); break;
                case Stop:
                    if (_marks.Count != 0 || _stack.Count != 1)
                        Fail($"STOP with {_stack.Count} stack items and {_marks.Count} open marks; expected exactly one value");
                    return _stack[0];

                case Mark:
                    if (_marks.Count >= MaxMarkDepth) Fail($"more than {MaxMarkDepth} nested MARKs");
                    _marks.Push(_stack.Count);
                    break;
                case EmptyDict: Push(new PickleDict()); break;
                case EmptyList: Push(new List<object?>()); break;
                case EmptyTuple: Push(Array.Empty<object?>()); break;
                case PickleOpcodes.Tuple: Push(PopToMark()); break;
                case Tuple1: Push(PopN(1)); break;
                case Tuple2: Push(PopN(2)); break;
                case Tuple3: Push(PopN(3)); break;
                case SetItem:
                {
                    var value = Pop();
                    var key = Pop();
                    SetItemOn(Peek(), key, value);
                    break;
                }
                case SetItems:
                {
                    var items = PopToMark();
                    if (items.Length % 2 != 0) Fail($"SETITEMS with an odd number ({items.Length}) of keys and values");
                    var target = Peek();
                    for (int i = 0; i < items.Length; i += 2) SetItemOn(target, items[i], items[i + 1]);
                    break;
                }
                case Append:
                {
                    var value = Pop();
                    ListOn(Peek()).Add(value);
                    break;
                }
                case Appends:
                {
                    var items = PopToMark();
                    ListOn(Peek()).AddRange(items);
                    break;
                }

                case None: Push(null); break;
                case NewTrue: Push(true); break;
                case NewFalse: Push(false); break;
                case BinInt: Push((long)BinaryPrimitives.ReadInt32LittleEndian(Read(4, "a BININT"))); break;
                case BinInt1: Push((long)ReadByte("a BININT1")); break;
                case BinInt2: Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Read(2, "a BININT2"))); break;
                case Long1: Push(ReadLong(ReadByte("a LONG1 length"))); break;
                case Long4: Push(ReadLong(BinaryPrimitives.ReadInt32LittleEndian(Read(4, "a LONG4 length")))); break;
                case BinFloat: Push(BinaryPrimitives.ReadDoubleBigEndian(Read(8, "a BINFLOAT"))); break;
                case BinUnicode: Push(ReadUtf8(BinaryPrimitives.ReadUInt32LittleEndian(Read(4, "a string length")))); break;
                case ShortBinUnicode: Push(ReadUtf8(ReadByte("a string length"))); break;
                case BinUnicode8:
                {
                    ulong length = BinaryPrimitives.ReadUInt64LittleEndian(Read(8, "a string length"));
                    Push(ReadUtf8((long)Math.Min(length, long.MaxValue)));
                    break;
                }

                case BinPut: Put(ReadByte("a memo index")); break;
                case LongBinPut: Put(BinaryPrimitives.ReadUInt32LittleEndian(Read(4, "a memo index"))); break;
                case Memoize: Put(_memo.Count); break;
                case BinGet: Get(ReadByte("a memo index")); break;
                case LongBinGet: Get(BinaryPrimitives.ReadUInt32LittleEndian(Read(4, "a memo index"))); break;

                case Global:
                {
                    string module = ReadLine("a GLOBAL module name");
                    string name = ReadLine("a GLOBAL name");
                    Push(ResolveGlobal(module, name));
                    break;
                }
                case StackGlobal:
                {
                    var name = Pop();
                    var module = Pop();
                    if (module is not string m || name is not string n)
                        throw Error($"STACK_GLOBAL needs two strings, got {Describe(module)} and {Describe(name)}");
                    Push(ResolveGlobal(m, n));
                    break;
                }
                case Reduce:
                {
                    var args = Pop();
                    var callable = Pop();
                    Push(ReduceOn(callable, args));
                    break;
                }
                case Build:
                {
                    var state = Pop();
                    BuildOn(Peek(), state);
                    break;
                }
                case BinPersId: Push(PersistentLoad(Pop())); break;

                default:
                    Fail($"unsupported pickle opcode 0x{op:X2}" + (op is >= 0x20 and < 0x7f ? $" ('{(char)op}')" : "") +
                         "; a torch.save state dict does not need it");
                    break;
            }
        }
    }

    PickleGlobal ResolveGlobal(string module, string name) =>
        TorchGlobals.TryResolve(module, name)
        ?? throw Error($"refused global '{module}.{name}': a state dict may only name {TorchGlobals.AllowedList}");

    object? ReduceOn(object? callable, object? args)
    {
        if (callable is not PickleGlobal g)
            throw Error($"REDUCE calls a {Describe(callable)}; only allowed globals can be applied");
        if (args is not object?[] a)
            throw Error($"REDUCE of {g.FullName} with {Describe(args)} arguments; expected a tuple");
        switch (g.Kind)
        {
            case GlobalKind.OrderedDict:
                if (a.Length != 0) Fail($"{g.FullName} with {a.Length} arguments; torch.save writes OrderedDict() then SETITEMS");
                return new PickleDict();
            case GlobalKind.RebuildTensorV2:
                return RebuildTensor(g, a);
            case GlobalKind.RebuildParameter when a.Length == 3:
            case GlobalKind.RebuildParameterWithState when a.Length == 4:
                return a[0] as TorchTensorRef ?? throw Error($"{g.FullName} of a {Describe(a[0])}; expected a tensor");
            default:
                throw Error($"{g.FullName} cannot be applied to {a.Length} arguments");
        }
    }

    TorchTensorRef RebuildTensor(PickleGlobal g, object?[] a)
    {
        if (a.Length is not (6 or 7))
            throw Error($"{g.FullName} with {a.Length} arguments; expected (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])");
        var storage = a[0] as TorchStorageRef ?? throw Error($"{g.FullName}: first argument is a {Describe(a[0])}, not a storage");
        if (a[1] is not long offset) throw Error($"{g.FullName}: storage_offset is a {Describe(a[1])}, not an int");
        var size = IntTuple(a[2], "size");
        var stride = IntTuple(a[3], "stride");
        if (a[4] is not bool) throw Error($"{g.FullName}: requires_grad is a {Describe(a[4])}, not a bool");
        return new TorchTensorRef(storage, offset, size, stride);
    }

    long[] IntTuple(object? value, string what)
    {
        if (value is not object?[] items) throw Error($"tensor {what} is a {Describe(value)}, not a tuple");
        var result = new long[items.Length];
        for (int i = 0; i < items.Length; i++)
            result[i] = items[i] as long? ?? throw Error($"tensor {what}[{i}] is a {Describe(items[i])}, not an int");
        return result;
    }

    TorchStorageRef PersistentLoad(object? pid)
    {
        if (pid is not object?[] { Length: 5 } t || t[0] is not "storage")
            throw Error($"persistent id {Describe(pid)}; expected ('storage', storage_type, key, location, numel)");
        if (t[1] is not PickleGlobal { Kind: GlobalKind.StorageType } type)
            throw Error($"persistent id storage type is a {Describe(t[1])}, not a torch.*Storage class");
        if (t[2] is not string key || key.Length == 0 || key.Length > 64 || !key.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            throw Error($"persistent id storage key {Describe(t[2])} is not a short alphanumeric name");
        if (t[3] is not string location) throw Error($"persistent id location is a {Describe(t[3])}, not a string");
        if (t[4] is not long numel || numel < 0) throw Error($"persistent id element count is {Describe(t[4])}");

        var storage = new TorchStorageRef(key, type.StorageDType, numel, location);
        if (_storages.TryGetValue(key, out var seen))
        {
            if (seen.DType != storage.DType || seen.ElementCount != storage.ElementCount)
                throw Error($"storage '{key}' is named as {seen.DType} x {seen.ElementCount} and as {storage.DType} x {storage.ElementCount}");
            return seen;
        }
        _storages[key] = storage;
        return storage;
    }

    void BuildOn(object? target, object? state)
    {
        // torch.save writes a module state dict's `_metadata` attribute as BUILD state on the OrderedDict; the
        // attribute only carries per-module version numbers, so it is accepted and dropped.
        if (target is PickleDict && state is PickleDict or object?[]) return;
        Fail($"BUILD of a {Describe(target)} with {Describe(state)} state; only OrderedDict attributes are accepted");
    }

    void SetItemOn(object? target, object? key, object? value)
    {
        if (target is not PickleDict dict) throw Error($"SETITEM on a {Describe(target)}, not a dict");
        if (key is not (string or long or bool or double)) throw Error($"dict key {Describe(key)} is not supported; keys must be strings or numbers");
        dict.Set(key, value);
    }

    List<object?> ListOn(object? target) => target as List<object?> ?? throw Error($"APPEND on a {Describe(target)}, not a list");

    void Put(long index)
    {
        if (!_memo.ContainsKey(index) && _memo.Count >= MaxMemoEntries) Fail($"more than {MaxMemoEntries} memo entries");
        _memo[index] = Peek();
    }

    void Get(long index)
    {
        if (!_memo.TryGetValue(index, out var value)) Fail($"memo index {index} read before it was written");
        Push(value);
    }

    // --- stack ---

    int Fence => _marks.Count == 0 ? 0 : _marks.Peek();

    void Push(object? value)
    {
        if (_stack.Count >= MaxStackItems) Fail($"more than {MaxStackItems} stack items");
        _stack.Add(value);
    }

    object? Peek()
    {
        if (_stack.Count <= Fence) Fail("stack underflow");
        return _stack[^1];
    }

    object? Pop()
    {
        var value = Peek();
        _stack.RemoveAt(_stack.Count - 1);
        return value;
    }

    object?[] PopN(int n)
    {
        if (_stack.Count - Fence < n) Fail("stack underflow");
        var items = _stack.GetRange(_stack.Count - n, n).ToArray();
        _stack.RemoveRange(_stack.Count - n, n);
        return items;
    }

    object?[] PopToMark()
    {
        if (_marks.Count == 0) Fail("no MARK to pop to");
        int mark = _marks.Pop();
        var items = _stack.GetRange(mark, _stack.Count - mark).ToArray();
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    // --- bytes ---

    byte ReadByte(string what) => Read(1, what)[0];

    ReadOnlySpan<byte> Read(long count, string what)
    {
        if (count < 0 || count > _data.Length - _pos)
            Fail($"pickle is truncated: {what} needs {count} bytes at byte {_pos}, {_data.Length - _pos} remain");
        var span = _data.AsSpan(_pos, (int)count);
        _pos += (int)count;
        return span;
    }

    long ReadLong(int byteCount)
    {
        if (byteCount > 8) Fail($"integer of {byteCount} bytes does not fit in 64 bits");
        var bytes = Read(byteCount, "a long integer");
        if (byteCount == 0) return 0;
        long value = (sbyte)bytes[^1] < 0 ? -1L : 0L;   // two's complement: sign-extend from the top byte
        for (int i = byteCount - 1; i >= 0; i--) value = (value << 8) | bytes[i];
        return value;
    }

    string ReadUtf8(long length)
    {
        var bytes = Read(length, "a string");
        try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes); }
        catch (DecoderFallbackException) { throw Error("a string is not valid UTF-8"); }
    }

    string ReadLine(string what)
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos, Math.Min(MaxGlobalNameBytes, _data.Length - _pos));
        if (end < 0)
        {
            if (_data.Length - _pos < MaxGlobalNameBytes) Fail($"pickle is truncated inside {what}");
            Fail($"{what} is longer than {MaxGlobalNameBytes} bytes");
        }
        string line = Encoding.ASCII.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return line;
    }

    // --- errors ---

    static string Describe(object? value) => value switch
    {
        null => "None",
        string s => $"str '{(s.Length > 40 ? s[..40] + "..." : s)}'",
        long l => $"int {l}",
        bool b => b ? "True" : "False",
        double d => $"float {d}",
        object?[] t => $"tuple of {t.Length}",
        List<object?> l => $"list of {l.Count}",
        PickleDict d => $"dict of {d.Count}",
        PickleGlobal g => $"global {g.FullName}",
        TorchStorageRef s => $"storage '{s.Key}'",
        TorchTensorRef => "tensor",
        _ => value.GetType().Name,
    };

    CheckpointFormatException Error(string problem) =>
        new(_file, $"data.pkl, opcode at byte {_opAt}: {problem}");

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    void Fail(string problem) => throw Error(problem);
}
