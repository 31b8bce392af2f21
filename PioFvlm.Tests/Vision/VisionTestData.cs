using System.IO.Compression;
using System.Buffers.Binary;
using PioFvlm.Core.Vision;

namespace PioFvlm.Tests.Vision;

/// <summary>Paths to the Pillow-made reference files and a hand-rolled PNG writer for crafted headers.</summary>
static class VisionTestData
{
    public static string Dir => Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "images");

    public static string File(string name) => Path.Combine(Dir, name);

    public static byte[] Bytes(string name) => System.IO.File.ReadAllBytes(File(name));

    public static float[] Floats(string name)
    {
        var bytes = Bytes(name);
        var result = new float[bytes.Length / 4];
        for (int i = 0; i < result.Length; i++)
            result[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4, 4));
        return result;
    }

    /// <summary>
    /// A PNG built from the specification: signature, IHDR, one zlib IDAT with filter byte 0 per row, IEND,
    /// each chunk with its CRC-32. <paramref name="colourType"/>: 0 grey, 2 RGB, 4 grey+alpha, 6 RGBA (8 bit).
    /// The size fields are written as given, so zero or huge sizes can be declared with little data.
    /// </summary>
    public static byte[] Png(uint width, uint height, byte colourType, byte[] rows, bool includeIend = true)
    {
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(0), width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;            // bit depth
        ihdr[9] = colourType;
        WriteChunk(png, "IHDR", ihdr);
        using (var compressed = new MemoryStream())
        {
            using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
                z.Write(rows);
            WriteChunk(png, "IDAT", compressed.ToArray());
        }
        if (includeIend) WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    /// <summary>Rows of raw pixels, each prefixed with PNG filter type 0 (None).</summary>
    public static byte[] Unfiltered(int width, int height, int channels, Func<int, int, int, byte> pixel)
    {
        var rows = new byte[height * (1 + width * channels)];
        int i = 0;
        for (int y = 0; y < height; y++)
        {
            rows[i++] = 0;
            for (int x = 0; x < width; x++)
                for (int c = 0; c < channels; c++)
                    rows[i++] = pixel(x, y, c);
        }
        return rows;
    }

    static void WriteChunk(Stream s, string type, byte[] data)
    {
        var header = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)data.Length);
        for (int i = 0; i < 4; i++) header[4 + i] = (byte)type[i];
        s.Write(header);
        s.Write(data);
        uint crc = Crc32(header.AsSpan(4, 4), data);
        var crcBytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crcBytes, crc);
        s.Write(crcBytes);
    }

    /// <summary>CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) over type then data, as PNG requires.</summary>
    static uint Crc32(ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (var part in new[] { type.ToArray(), data.ToArray() })
            foreach (byte b in part)
            {
                crc ^= b;
                for (int k = 0; k < 8; k++)
                    crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
            }
        return ~crc;
    }

    public static RgbImage Image(int width, int height, Func<int, int, int, byte> pixel)
    {
        var px = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int c = 0; c < 3; c++)
                    px[(y * width + x) * 3 + c] = pixel(x, y, c);
        return new RgbImage(width, height, px);
    }
}
