namespace PioFvlm.Bench.Eval.Runner;

/// <summary><c>pio-fvlm merge --out FILE SHARD.jsonl ...</c>: joins shard answer files (<see cref="AnswerMerge"/>).</summary>
public static class MergeCommand
{
    public static readonly Commands.CommandSyntax Syntax = new("merge", [Commands.CliOption.Require("out", "FILE", "the joined answers file to write")])
    {
        Arguments = [new("ANSWERS.jsonl", "the shard answer files, one or more", Many: true)],
    };

    static string Usage => Syntax.Usage;

    public static int Run(string[] args)
    {
        var a = new Commands.ArgReader(args, Syntax);
        string output = a.Value("out") ?? throw new UsageException($"--out FILE is required; usage: {Usage}");
        if (a.Positional.Count == 0) throw new UsageException($"give the shard answer files; usage: {Usage}");
        try
        {
            int n = AnswerMerge.Merge(a.Positional, output);
            Console.WriteLine($"{n} answers from {a.Positional.Count} files -> {output}");
            return 0;
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidOperationException or FormatException or ArgumentException or IOException)
        {
            Console.Error.WriteLine($"pio-fvlm merge: {e.Message}");
            return 1;
        }
    }
}
