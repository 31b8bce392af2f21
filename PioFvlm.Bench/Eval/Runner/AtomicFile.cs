namespace PioFvlm.Bench.Eval.Runner;

/// <summary>Write to a temporary file beside the target, then rename over it: readers never see half a file.</summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string text)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = full + $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        File.WriteAllText(temp, text);
        File.Move(temp, full, overwrite: true);
    }
}
