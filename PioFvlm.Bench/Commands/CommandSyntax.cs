namespace PioFvlm.Bench.Commands;

/// <summary>
/// What one verb accepts: its positional arguments, its options with one-line descriptions, and whether it takes
/// <c>--Section:Key=value</c> configuration overrides or forwards the rest to another parser. <see cref="ArgReader"/>
/// accepts exactly this and <see cref="CommandHelp"/> prints exactly this, so help and parser cannot disagree.
/// </summary>
public sealed record CommandSyntax(string Verb, IReadOnlyList<CliOption> Options)
{
    public IReadOnlyList<CliArgument> Arguments { get; init; } = [];

    /// <summary>eval, demo: <c>--Run:Section:Key=value</c> (or <c>--Run:Section:Key value</c>) overrides of the run config.</summary>
    public bool ConfigOverrides { get; init; }

    /// <summary>bench: the usage placeholder of the arguments forwarded untouched (e.g. to BenchmarkDotNet); null = none.</summary>
    public string? Forwarded { get; init; }

    /// <summary>A paragraph printed at the end of the help (what the forwarded arguments are, exit codes, ...).</summary>
    public string? Note { get; init; }

    public CliOption? Find(string name) => Options.FirstOrDefault(o => o.Name == name);

    /// <summary><c>pio-fvlm VERB ARG [OPTIONAL] --required X [--optional Y] ...</c>, generated from the table.</summary>
    public string Usage
    {
        get
        {
            var parts = new List<string> { "pio-fvlm", Verb };
            foreach (var a in Arguments)
            {
                string text = a.Many ? $"{a.Name} [{a.Name} ...]" : a.Name;
                parts.Add(a.Required ? text : $"[{text}]");
            }
            parts.AddRange(Options.Where(o => o.Required).Select(o => o.Syntax));
            parts.AddRange(Options.Where(o => !o.Required).Select(o => $"[{o.Syntax}]"));
            if (ConfigOverrides) parts.Add($"[{CliOption.OverrideSyntax} ...]");
            if (Forwarded != null) parts.Add($"[{Forwarded}]");
            return string.Join(' ', parts);
        }
    }
}

/// <summary>One option: <c>--Name</c>, its value placeholder (null for a flag) and a one-line description.</summary>
public sealed record CliOption(string Name, string? Value, string Description, bool Required = false)
{
    public const string OverrideSyntax = "--Run:Section:Key=value";

    public bool IsFlag => Value == null;
    public string Syntax => IsFlag ? $"--{Name}" : $"--{Name} {Value}";

    public static CliOption Flag(string name, string description) => new(name, null, description);
    public static CliOption Optional(string name, string value, string description) => new(name, value, description);
    public static CliOption Require(string name, string value, string description) => new(name, value, description, Required: true);
}

/// <summary>A positional argument; <see cref="Many"/>: one or more (only the last argument may be).</summary>
public sealed record CliArgument(string Name, string Description, bool Required = true, bool Many = false);
