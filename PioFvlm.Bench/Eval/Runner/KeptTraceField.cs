using System.Globalization;
using PioFvlm.Core.Pruning;

namespace PioFvlm.Bench.Eval.Runner;

/// <summary>
/// An answer's <see cref="KeptTokenTrace"/> in its metadata (key <see cref="Key"/>), so recall can be computed from the
/// answers file alone, resumed or merged: <c>visual=64;pre=3 5 -1;L1=3 5;complete=1</c> (the tower's visual token
/// count, then per stage its label and the original indices present after it, then whether the trace is complete).
/// The runner records it only for questions that carry ground-truth relevant tokens (the shapes demo).
/// </summary>
public static class KeptTraceField
{
    public const string Key = "kept_visual";

    public static string Format(KeptTokenTrace trace)
    {
        var parts = new List<string> { "visual=" + trace.VisualTokens.ToString(CultureInfo.InvariantCulture) };
        parts.AddRange(trace.Stages.Select(s => s.Label + "=" + string.Join(' ', s.Original.Select(i => i.ToString(CultureInfo.InvariantCulture)))));
        parts.Add("complete=" + (trace.Complete ? "1" : "0"));
        return string.Join(';', parts);
    }

    /// <summary>Reads <see cref="Format"/>'s text; <paramref name="where"/> names the answer in errors.</summary>
    public static KeptTokenTrace Parse(string text, string where)
    {
        long visual = -1;
        bool? complete = null;
        var stages = new List<KeptTokens>();
        foreach (var part in text.Split(';'))
        {
            var kv = part.Split('=', 2);
            if (kv.Length != 2) throw new FormatException($"{where}: {Key} part '{part}' is not label=values");
            string label = kv[0], values = kv[1];
            if (label == "visual") visual = Long(values, where);
            else if (label == "complete") complete = values == "1";
            else
            {
                int? after = label == "pre" ? null
                    : label.StartsWith('L') && int.TryParse(label[1..], NumberStyles.None, CultureInfo.InvariantCulture, out int l) ? l
                    : throw new FormatException($"{where}: {Key} stage label '{label}' is neither 'pre' nor L<layer>");
                long[] kept = values.Length == 0 ? [] : values.Split(' ').Select(v => Long(v, where)).ToArray();
                stages.Add(new KeptTokens(after, kept));
            }
        }
        if (visual < 0 || complete is null) throw new FormatException($"{where}: {Key} '{text}' lacks visual= or complete=");
        return new KeptTokenTrace(visual, stages, complete.Value);
    }

    static long Long(string text, string where) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) ? v
            : throw new FormatException($"{where}: {Key} value '{text}' is not an integer");
}
