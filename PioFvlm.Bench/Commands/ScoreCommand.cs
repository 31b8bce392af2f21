using System.Text.Json;
using System.Text.Json.Nodes;
using PioFvlm.Bench.Eval;
using PioFvlm.Bench.Eval.Datasets;
using PioFvlm.Bench.Eval.Scoring;

namespace PioFvlm.Bench.Commands;

/// <summary>
/// <c>pio-fvlm score --benchmark NAME --answers FILE --annotations PATH [--questions FILE] [--json]</c>: scores a LLaVA
/// answers jsonl in-process; prints a metrics table or one JSON object. Bad input files exit 1 with the file named.
/// </summary>
public static class ScoreCommand
{
    public static readonly CommandSyntax Syntax = new("score",
    [
        CliOption.Require("benchmark", string.Join("|", ScorerRegistry.Names), "which benchmark's scorer"),
        CliOption.Require("answers", "FILE", "the answers jsonl (LLaVA format)"),
        CliOption.Require("annotations", "PATH", "the benchmark's ground truth file or folder"),
        CliOption.Optional("questions", "FILE", "the questions file, where the scorer needs it"),
        CliOption.Flag("json", "print the metrics as one JSON object"),
    ]);

    public static int Run(string[] args)
    {
        var a = new ArgReader(args, Syntax);
        string benchmark = a.Value("benchmark") ?? throw new UsageException($"missing --benchmark ({string.Join("|", ScorerRegistry.Names)})");
        string answersPath = a.Value("answers") ?? throw new UsageException("missing --answers FILE");
        string annotations = a.Value("annotations") ?? throw new UsageException("missing --annotations PATH");
        IBenchmarkScorer scorer;
        try { scorer = ScorerRegistry.Create(benchmark); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }

        BenchmarkScore score;
        try
        {
            var answers = AnswersFile.Read(answersPath);
            score = scorer.Score(answers, new ScoringInputs(annotations, a.Value("questions")));
        }
        catch (Exception e) when (e is EvalDataException or IOException or ArgumentException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"pio-fvlm score: {e.Message}");
            return 1;
        }

        if (a.Flag("json"))
        {
            var metrics = new JsonObject();
            foreach (var (k, v) in score.Metrics) metrics[k] = v;
            var root = new JsonObject
            {
                ["benchmark"] = score.Benchmark, ["answers"] = Path.GetFullPath(answersPath),
                ["main_metric"] = score.MainMetric, ["main"] = score.Main, ["metrics"] = metrics,
            };
            Console.WriteLine(root.ToJsonString());
            return 0;
        }
        Console.WriteLine($"{score.Benchmark}: {score.MainMetric} = {score.Main:F2}   ({answersPath})");
        int width = Math.Max(10, score.Metrics.Keys.Max(k => k.Length));
        foreach (var (k, v) in score.Metrics) Console.WriteLine($"  {k.PadRight(width)}  {v,10:F2}");
        return 0;
    }
}
