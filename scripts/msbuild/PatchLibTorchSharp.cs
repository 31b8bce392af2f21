// MSBuild inline task (compiled by RoslynCodeTaskFactory from Directory.Build.targets).
// Marks the GLIBCXX_3.4.32 version need of libLibTorchSharp.so weak (VER_FLG_WEAK in .gnu.version_r), so the
// dynamic loader accepts a libstdc++ that stops at GLIBCXX_3.4.30 (Debian 12, Ubuntu 22.04). The only symbol
// bound to that version, std::ios_base_library_init(), is referenced by GCC 13 headers and never called.
#nullable enable
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class PatchLibTorchSharp : Task
{
    const string NeededVersion = "GLIBCXX_3.4.32";
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlagWeak = 0x2;

    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        if (Files.Length == 0) return true;
        string? libstdcxx = FindSystemLibStdCxx();
        if (libstdcxx == null)
        {
            Log.LogMessage(MessageImportance.High, "PatchLibTorchSharp: no system libstdc++.so.6 found; leaving libLibTorchSharp.so as shipped.");
            return true;
        }
        if (Contains(File.ReadAllBytes(libstdcxx), Encoding.ASCII.GetBytes(NeededVersion + "\0")))
            return true; // the system provides the version: nothing to do
        foreach (var item in Files)
        {
            string path = item.ItemSpec;
            try
            {
                string result = MarkWeak(path);
                Log.LogMessage(result.StartsWith("patched") ? MessageImportance.High : MessageImportance.Low, $"PatchLibTorchSharp: {path}: {result}");
            }
            catch (Exception e)
            {
                Log.LogError($"PatchLibTorchSharp: cannot patch {path}: {e.Message}. TorchSharp will not load on this system " +
                             $"because {libstdcxx} lacks {NeededVersion}; install a newer libstdc++ (GCC 13+) instead.");
            }
        }
        return !Log.HasLoggedErrors;
    }

    static string? FindSystemLibStdCxx()
    {
        string[] candidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
        };
        foreach (var c in candidates) if (File.Exists(c)) return c;
        return null;
    }

    static bool Contains(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }

    /// <summary>Returns what was done: "patched", "already weak" or "does not need the version".</summary>
    static string MarkWeak(string path)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("not a 64-bit little-endian ELF file");
        long shoff = (long)BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        if (shoff <= 0 || shentsize < 64 || shoff + (long)shnum * shentsize > elf.Length)
            throw new InvalidDataException("section header table out of range");
        for (int s = 0; s < shnum; s++)
        {
            long sh = shoff + (long)s * shentsize;
            if (BitConverter.ToUInt32(elf, (int)sh + 4) != ShtGnuVerneed) continue;
            long offset = (long)BitConverter.ToUInt64(elf, (int)sh + 0x18);
            uint link = BitConverter.ToUInt32(elf, (int)sh + 0x28);
            uint count = BitConverter.ToUInt32(elf, (int)sh + 0x2C);
            long strOffset = (long)BitConverter.ToUInt64(elf, (int)(shoff + link * (long)shentsize) + 0x18);
            long vn = offset;
            for (uint i = 0; i < count; i++)
            {
                int auxCount = BitConverter.ToUInt16(elf, (int)vn + 2);
                long aux = vn + BitConverter.ToUInt32(elf, (int)vn + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    uint name = BitConverter.ToUInt32(elf, (int)aux + 8);
                    if (ReadCString(elf, strOffset + name) == NeededVersion)
                    {
                        ushort flags = BitConverter.ToUInt16(elf, (int)aux + 4);
                        if ((flags & VerFlagWeak) != 0) return "already weak";
                        flags |= VerFlagWeak;
                        using var f = new FileStream(path, FileMode.Open, FileAccess.Write);
                        f.Position = aux + 4;
                        f.Write(BitConverter.GetBytes(flags), 0, 2);
                        return "patched (" + NeededVersion + " need marked weak)";
                    }
                    aux += BitConverter.ToUInt32(elf, (int)aux + 12);
                }
                vn += BitConverter.ToUInt32(elf, (int)vn + 12);
            }
        }
        return "does not need " + NeededVersion;
    }

    static string ReadCString(byte[] data, long at)
    {
        int end = (int)at;
        while (end < data.Length && data[end] != 0) end++;
        return Encoding.ASCII.GetString(data, (int)at, end - (int)at);
    }
}
