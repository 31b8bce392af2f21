using System.Text.RegularExpressions;

namespace PioFvlm.Core.IO.Loading;

/// <summary>
/// Declarative checkpoint-to-module key conversion: an ordered list of rename rules (the first rule that matches a
/// checkpoint key renames it, as HuggingFace's key mappings do) plus patterns of checkpoint keys to skip
/// (e.g. rotary <c>inv_freq</c> buffers the module recomputes). Immutable: each builder call returns a new map.
/// </summary>
public sealed class KeyMap
{
    readonly IReadOnlyList<KeyRule> _rules;
    readonly IReadOnlyList<Regex> _ignores;

    public static KeyMap Identity { get; } = new([], []);

    KeyMap(IReadOnlyList<KeyRule> rules, IReadOnlyList<Regex> ignores) => (_rules, _ignores) = (rules, ignores);

    /// <summary>Checkpoint keys starting with <paramref name="from"/> get <paramref name="to"/> in its place.</summary>
    public KeyMap RenamePrefix(string from, string to) => With(new PrefixRule(from, to));

    /// <summary>Checkpoint keys matching <paramref name="pattern"/> are rewritten with <paramref name="replacement"/> (<c>$1</c> groups allowed).</summary>
    public KeyMap Rename(string pattern, string replacement) => With(new RegexRule(new Regex(pattern, RegexOptions.CultureInvariant), replacement));

    /// <summary>Checkpoint keys matching <paramref name="pattern"/> are skipped: neither loaded nor reported unexpected.</summary>
    public KeyMap Ignore(string pattern) => new(_rules, [.. _ignores, new Regex(pattern, RegexOptions.CultureInvariant)]);

    KeyMap With(KeyRule rule) => new([.. _rules, rule], _ignores);

    /// <summary>True when the checkpoint key matches an ignore pattern (tested on the key before renaming).</summary>
    public bool IsIgnored(string checkpointKey) => _ignores.Any(r => r.IsMatch(checkpointKey));

    /// <summary>The module key for a checkpoint key: the first matching rule applied, or the key unchanged.</summary>
    public string Map(string checkpointKey)
    {
        foreach (var rule in _rules)
        {
            if (rule.TryApply(checkpointKey, out string mapped)) return mapped;
        }
        return checkpointKey;
    }

    public override string ToString() =>
        string.Join("; ", _rules.Select(r => r.ToString()).Concat(_ignores.Select(i => $"ignore /{i}/")));

    abstract record KeyRule
    {
        public abstract bool TryApply(string key, out string mapped);
    }

    sealed record PrefixRule(string From, string To) : KeyRule
    {
        public override bool TryApply(string key, out string mapped)
        {
            bool hit = key.StartsWith(From, StringComparison.Ordinal);
            mapped = hit ? To + key[From.Length..] : key;
            return hit;
        }

        public override string ToString() => $"prefix '{From}' -> '{To}'";
    }

    sealed record RegexRule(Regex Pattern, string Replacement) : KeyRule
    {
        public override bool TryApply(string key, out string mapped)
        {
            bool hit = Pattern.IsMatch(key);
            mapped = hit ? Pattern.Replace(key, Replacement) : key;
            return hit;
        }

        public override string ToString() => $"/{Pattern}/ -> '{Replacement}'";
    }
}
