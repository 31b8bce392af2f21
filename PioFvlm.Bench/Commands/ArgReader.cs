namespace PioFvlm.Bench.Commands;

/// <summary>Minimal option reader: positional arguments, --flags and --name value pairs; unknown options fail.</summary>
public sealed class ArgReader
{
    readonly List<string> _positional = new();
    readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);

    public ArgReader(string[] args, IEnumerable<string> flags, IEnumerable<string> valued)
    {
        var flagSet = flags.ToHashSet();
        var valuedSet = valued.ToHashSet();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal)) { _positional.Add(a); continue; }
            string name = a[2..];
            string? inline = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { inline = name[(eq + 1)..]; name = name[..eq]; }
            if (flagSet.Contains(name)) _options[name] = "true";
            else if (valuedSet.Contains(name))
            {
                if (inline == null && i + 1 >= args.Length) throw new UsageException($"option --{name} needs a value");
                _options[name] = inline ?? args[++i];
            }
            else throw new UsageException($"unknown option '{a}' (known: {string.Join(", ", flagSet.Concat(valuedSet).Select(n => "--" + n))})");
        }
    }

    public IReadOnlyList<string> Positional => _positional;
    public bool Flag(string name) => _options.ContainsKey(name);
    public string? Value(string name) => _options.TryGetValue(name, out var v) ? v : null;

    public string RequirePositional(int index, string what) =>
        index < _positional.Count ? _positional[index] : throw new UsageException($"missing {what}");
}
