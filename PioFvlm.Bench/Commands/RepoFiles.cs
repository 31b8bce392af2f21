namespace PioFvlm.Bench.Commands;

/// <summary>Finds the repository's files (configs, test data) from wherever the tool runs.</summary>
public static class RepoFiles
{
    /// <summary>
    /// The file at <paramref name="relative"/> in the current folder or a parent; with <paramref name="besideProgram"/>
    /// also beside the program or above it (the repository holds bin/); null when nowhere.
    /// </summary>
    public static string? FindUpwards(string relative, bool besideProgram = true)
    {
        var starts = besideProgram ? new[] { Environment.CurrentDirectory, AppContext.BaseDirectory } : [Environment.CurrentDirectory];
        foreach (string start in starts)
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            {
                string path = Path.Combine(dir.FullName, relative);
                if (File.Exists(path)) return path;
            }
        return null;
    }
}
