using System.Buffers.Binary;
using System.Text;
using static PioFvlm.Core.IO.TorchPickle.PickleOpcodes;

namespace PioFvlm.Core.IO.TorchPickle;

/// <summary>
/// Writes pickle protocol 2 opcodes the way CPython's pickler does for the values a state dict holds:
/// strings and globals are memoized (BINPUT, later BINGET), small ints use the shortest BININT form.
/// </summary>
internal sealed class PickleEmitter
{
    readonly MemoryStream _out = new();
    readonly Dictionary<string, int> _memo = new(StringComparer.Ordinal);
    int _nextMemo;

    public PickleEmitter() => Write(Proto, 2);

    public byte[] Finish()
    {
        Write(Stop);
        return _out.ToArray();
    }

    public void Op(byte opcode) => Write(opcode);

    public void Bool(bool value) => Write(value ? NewTrue : NewFalse);

    public void Int(long value)
    {
        if (value is >= 0 and <= byte.MaxValue) Write(BinInt1, (byte)value);
        else if (value is >= 0 and <= ushort.MaxValue) { Write(BinInt2); WriteLittleEndian((ushort)value, 2); }
        else if (value is >= int.MinValue and <= int.MaxValue) { Write(BinInt); WriteLittleEndian((uint)(int)value, 4); }
        else
        {
            // LONG1: the shortest two's-complement little-endian form, as CPython's encode_long.
            var bytes = new byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
            int n = 8;
            while (n > 1 && ((bytes[n - 1] == 0 && bytes[n - 2] < 0x80) || (bytes[n - 1] == 0xFF && bytes[n - 2] >= 0x80))) n--;
            Write(Long1, (byte)n);
            _out.Write(bytes, 0, n);
        }
    }

    public void String(string value)
    {
        if (Recall("s:" + value)) return;
        var utf8 = Encoding.UTF8.GetBytes(value);
        Write(BinUnicode);
        WriteLittleEndian((uint)utf8.Length, 4);
        _out.Write(utf8);
        Memoize("s:" + value);
    }

    public void Global(string module, string name)
    {
        if (Recall($"g:{module}.{name}")) return;
        Write(PickleOpcodes.Global);
        _out.Write(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
        Memoize($"g:{module}.{name}");
    }

    /// <summary>Closes a tuple whose <paramref name="count"/> items were just written (after a MARK when count &gt; 3).</summary>
    public void EndTuple(int count)
    {
        Write(count switch { 0 => EmptyTuple, 1 => Tuple1, 2 => Tuple2, 3 => Tuple3, _ => PickleOpcodes.Tuple });
        if (count > 0) MemoizeAnonymous();
    }

    /// <summary>Memoizes the value just built (a dict, a REDUCE result), as CPython does for every container.</summary>
    public void MemoizeAnonymous()
    {
        int index = _nextMemo++;
        if (index <= byte.MaxValue) Write(BinPut, (byte)index);
        else { Write(LongBinPut); WriteLittleEndian((uint)index, 4); }
    }

    bool Recall(string key)
    {
        if (!_memo.TryGetValue(key, out int index)) return false;
        if (index <= byte.MaxValue) Write(BinGet, (byte)index);
        else { Write(LongBinGet); WriteLittleEndian((uint)index, 4); }
        return true;
    }

    void Memoize(string key)
    {
        _memo[key] = _nextMemo;
        MemoizeAnonymous();
    }

    void Write(byte opcode) => _out.WriteByte(opcode);

    void Write(byte opcode, byte argument)
    {
        _out.WriteByte(opcode);
        _out.WriteByte(argument);
    }

    void WriteLittleEndian(uint value, int bytes)
    {
        Span<byte> buffer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, value);
        _out.Write(buffer[..bytes]);
    }
}
