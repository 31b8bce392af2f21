namespace PioFvlm.Bench.Commands;

/// <summary>
/// Reads a verb's arguments against its <see cref="CommandSyntax"/>: positional arguments, <c>--flag</c>,
/// <c>--name value</c> / <c>--name=value</c>, <c>-h</c> / <c>--help</c>, and, where the syntax allows, configuration
/// overrides and forwarded arguments. Unknown options, missing values, missing required options or arguments and extra
/// arguments throw <see cref="UsageException"/>; reading an option the syntax does not declare is a bug and throws.
/// </summary>
public sealed class ArgReader
{
    readonly CommandSyntax _syntax;
    readonly List<string> _positional = new();
    readonly List<string> _forwarded = new();
    readonly Dictionary<string, string> _options = new(StringComparer.Ordinal);

    public ArgReader(string[] args, CommandSyntax syntax)
    {
        _syntax = syntax;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a == "--")   // the rest is positional (or forwarded) even where it looks like an option
            {
                (syntax.Forwarded != null ? _forwarded : _positional).AddRange(args[(i + 1)..]);
                break;
            }
            if (a is "-h" or "--help")
            {
                HelpRequested = true;   // help wins over anything after it, e.g. missing required options
                return;
            }
            if (!IsOption(a))
            {
                (syntax.Forwarded != null ? _forwarded : _positional).Add(a);
                continue;
            }
            string name = a.TrimStart('-');
            string? inline = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { inline = name[(eq + 1)..]; name = name[..eq]; }
            var option = a.StartsWith("--", StringComparison.Ordinal) ? syntax.Find(name) : null;
            if (option != null)
            {
                if (option.IsFlag)
                {
                    if (inline != null) throw new UsageException($"option --{name} takes no value, got '{a}'");
                    _options[name] = "true";
                }
                else if (inline != null) _options[name] = inline;
                else if (i + 1 < args.Length) _options[name] = args[++i];
                else throw new UsageException($"option --{name} needs a value ({option.Value})");
            }
            else if (syntax.ConfigOverrides && a.StartsWith("--", StringComparison.Ordinal) && name.Contains(':'))
            {
                if (inline == null && ++i >= args.Length) throw new UsageException($"override {a} needs a value");
            }
            else if (syntax.Forwarded != null) _forwarded.Add(a);
            else throw new UsageException($"unknown option '{a}'");
        }
        Validate();
    }

    /// <summary><c>-h</c> or <c>--help</c> came before any other problem; nothing else is checked.</summary>
    public bool HelpRequested { get; }

    public IReadOnlyList<string> Positional => _positional;

    /// <summary>The arguments the syntax forwards (not its own options), in order.</summary>
    public IReadOnlyList<string> Forwarded => _forwarded;

    public bool Flag(string name) => _options.ContainsKey(Declared(name, flag: true));
    public string? Value(string name) => _options.TryGetValue(Declared(name, flag: false), out var v) ? v : null;

    /// <summary>The integer value of --<paramref name="name"/>, at least <paramref name="min"/>; absent = the fallback.</summary>
    public int Int(string name, int fallback, int min)
    {
        if (Value(name) is not { } text) return fallback;
        if (!int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int value) || value < min)
            throw new UsageException($"--{name}: '{text}' is not an integer >= {min}");
        return value;
    }

    public string RequirePositional(int index, string what) =>
        index < _positional.Count ? _positional[index] : throw new UsageException($"missing {what}");

    /// <summary>-x or --x, but not a negative number (a value or positional argument such as -1 or -0.5).</summary>
    static bool IsOption(string a) => a.Length > 1 && a[0] == '-' && !char.IsAsciiDigit(a[1]) && a[1] != '.';

    void Validate()
    {
        foreach (var o in _syntax.Options.Where(o => o.Required && !_options.ContainsKey(o.Name)))
            throw new UsageException($"--{o.Name} is required ({o.Value}: {o.Description})");
        var args = _syntax.Arguments;
        for (int k = _positional.Count; k < args.Count; k++)
            if (args[k].Required) throw new UsageException($"missing {args[k].Name} ({args[k].Description})");
        bool many = args.Count > 0 && args[^1].Many;
        if (!many && _positional.Count > args.Count)
            throw new UsageException($"unexpected argument '{_positional[args.Count]}'");
    }

    string Declared(string name, bool flag)
    {
        var option = _syntax.Find(name);
        if (option == null || option.IsFlag != flag)
            throw new InvalidOperationException($"pio-fvlm {_syntax.Verb}: --{name} is not a declared {(flag ? "flag" : "valued option")} of this verb's syntax");
        return name;
    }
}
