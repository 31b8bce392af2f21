namespace PioFvlm.Core.IO.Loading;

/// <summary>A module key whose parameter shape differs from the checkpoint tensor mapped onto it.</summary>
public sealed record ShapeMismatch(string Key, string CheckpointKey, long[] Expected, long[] Found)
{
    public override string ToString() =>
        $"{Key} (checkpoint '{CheckpointKey}'): module expects [{string.Join(", ", Expected)}], checkpoint has [{string.Join(", ", Found)}]";
}

/// <summary>
/// What a load found. <see cref="Missing"/>: module keys nothing in the checkpoint mapped to. <see cref="Unexpected"/>:
/// checkpoint keys (before renaming) that map to no module key. <see cref="Collisions"/>: module keys that several
/// checkpoint keys map to. <see cref="Ignored"/>: checkpoint keys skipped by the key map's ignore patterns.
/// </summary>
public sealed record StateLoadReport(
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    IReadOnlyList<ShapeMismatch> Mismatched,
    IReadOnlyList<string> Collisions,
    IReadOnlyList<string> Ignored,
    int Loaded)
{
    /// <summary>Every module key was loaded and every checkpoint key was used or ignored.</summary>
    public bool IsComplete => Missing.Count == 0 && Unexpected.Count == 0 && Mismatched.Count == 0 && Collisions.Count == 0;

    /// <summary>All problems, one per line, grouped by kind.</summary>
    public string Describe()
    {
        var lines = new List<string>();
        void Section<T>(string title, IReadOnlyList<T> items)
        {
            if (items.Count == 0) return;
            lines.Add($"{title} ({items.Count}):");
            lines.AddRange(items.Select(i => $"  {i}"));
        }
        Section("missing keys (in the module, not in the checkpoint)", Missing);
        Section("unexpected keys (in the checkpoint, not in the module)", Unexpected);
        Section("shape mismatches", Mismatched);
        Section("module keys mapped from several checkpoint keys", Collisions);
        return string.Join(Environment.NewLine, lines);
    }
}
