namespace PioFvlm.Bench.Commands;

/// <summary>Prints a verb's help from its <see cref="CommandSyntax"/>: usage line, summary, arguments, options, note.</summary>
public static class CommandHelp
{
    /// <summary>Wider entries (e.g. <c>--stages "1:218,10:128"</c>) run into their description after two spaces.</summary>
    const int Column = 28;

    public static void Write(TextWriter w, CommandSyntax syntax, string summary)
    {
        w.WriteLine("usage: " + syntax.Usage);
        w.WriteLine();
        w.WriteLine(summary);
        if (syntax.Arguments.Count > 0)
        {
            w.WriteLine();
            w.WriteLine("arguments:");
            foreach (var a in syntax.Arguments) Row(w, a.Name, a.Description + (a.Required ? "" : " (optional)"));
        }
        w.WriteLine();
        w.WriteLine("options:");
        foreach (var o in syntax.Options) Row(w, o.Syntax, o.Description + (o.Required ? " (required)" : ""));
        if (syntax.ConfigOverrides)
            Row(w, CliOption.OverrideSyntax, "override a key of the run config, e.g. --Run:Eval:Limit=10 (repeatable; also --Run:Section:Key value)");
        Row(w, "-h, --help", "print this help");
        if (syntax.Note != null)
        {
            w.WriteLine();
            w.WriteLine(syntax.Note);
        }
    }

    static void Row(TextWriter w, string left, string description) =>
        w.WriteLine("  " + (left.Length + 2 <= Column ? left.PadRight(Column) : left + "  ") + description);
}
