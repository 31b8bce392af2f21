using System.Buffers.Binary;
using System.Text;

namespace PioFvlm.Tests.Loading;

/// <summary>Hand-assembled safetensors bytes, so bad files do not depend on the writer under test.</summary>
static class RawSafetensors
{
    /// <summary>8-byte little-endian length (the header's own length unless overridden), header text, data.</summary>
    public static void Write(string path, string header, byte[]? data = null, ulong? headerLength = null)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + (data?.Length ?? 0)];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        data?.CopyTo(bytes, 8 + json.Length);
        File.WriteAllBytes(path, bytes);
    }
}
