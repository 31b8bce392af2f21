namespace PioFvlm.Bench.Eval.Runner;

/// <summary>
/// <c>pio-fvlm eval CONFIG.json [--Section:Key=value ...] [--limit N] [--shard i/n] [--output DIR]</c>: the
/// config-driven evaluation run (<see cref="RunConfigLoader"/> for the layering, <see cref="EvalRunner"/> for the files).
/// Exit 0 on success, 1 with a one-line error (key path, file) when the config, data or a resume cannot be used, 2 on
/// bad arguments.
/// </summary>
public static class EvalCommand
{
    public static readonly Commands.CommandSyntax Syntax = new("eval",
    [
        Commands.CliOption.Optional("limit", "N", "answer the first N questions only (--Run:Eval:Limit)"),
        Commands.CliOption.Optional("shard", "i/n", "answer shard i of n, 1-based (--Run:Eval:Shard); join with 'pio-fvlm merge'"),
        Commands.CliOption.Optional("output", "DIR", "the output folder (--Run:Output:Directory)"),
    ])
    {
        Arguments = [new("CONFIG.json", "the run config (model, dataset, methods, output); it comes first")],
        ConfigOverrides = true,
    };

    static string Usage => Syntax.Usage;

    public static int Run(string[] args)
    {
        if (args.Length == 0 || args[0].StartsWith("--", StringComparison.Ordinal))
            throw new UsageException($"the run config file comes first; usage: {Usage}");
        try
        {
            var run = RunConfigLoader.Load(args[0], args[1..]);
            IEvalDataset dataset = run.Eval.Format switch
            {
                EvalInputFormat.MmBenchTsv => new MmBenchDataset(Path.Combine(run.Output.Directory, "mmbench-images")),
                EvalInputFormat.ScienceQaJson => new ScienceQaDataset(),
                _ => new LlavaQuestionJsonl(run.Eval.SkipMalformed, Console.Error),
            };
            var result = EvalRunner.Run(run, dataset);
            Console.WriteLine(File.ReadAllText(result.ReportMarkdown));
            Console.WriteLine($"answers:  {string.Join(", ", result.AnswerFiles.Values)}");
            Console.WriteLine($"report:   {result.ReportMarkdown}, {result.ReportCsv}");
            return 0;
        }
        catch (Exception e) when (e is RunConfigException or Datasets.EvalDataException or FileNotFoundException or DirectoryNotFoundException or FormatException
                                       or InvalidOperationException or ArgumentException or NotSupportedException or IOException)
        {
            Console.Error.WriteLine($"pio-fvlm eval: {e.Message}");
            return 1;
        }
    }
}
