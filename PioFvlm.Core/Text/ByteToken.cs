namespace PioFvlm.Core.Text;

/// <summary>The byte-fallback pieces "&lt;0x00&gt;".."&lt;0xFF&gt;" of LLaMA-style vocabularies.</summary>
internal static class ByteToken
{
    public static string Name(byte b) => $"<0x{b:X2}>";

    public static bool TryParse(string token, out byte value)
    {
        value = 0;
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out value);
    }
}
