// Command-line design: each verb declares its syntax once, as a table (CommandSyntax: arguments, options with one-line
// descriptions, config overrides, forwarded arguments); ArgReader parses against that table and CommandHelp prints it,
// so accepted options and help cannot disagree. System.CommandLine was considered and not used: porting would rewrite
// the parsing of all 16 verbs, and three of them fall outside its model (eval and demo take open-ended
// --Run:Section:Key=value overrides, bench forwards unknown arguments to BenchmarkDotNet, whose -h means --hide), so
// they would need unmatched tokens switched off and our own validation anyway, plus wiring for our exit code 2; what
// it adds beyond that (typed binding, completion, response files) this tool does not need. The table costs one
// declaration per verb and about 150 lines here.
using PioFvlm.Bench.Commands;

namespace PioFvlm.Bench;

/// <summary>The pio-fvlm command line: one verb per subcommand, each in Commands/ (or Eval/, Macro/, Micro/).</summary>
public static class Cli
{
    /// <summary>Every verb; hidden ones are run by scripts and left out of the verb list (they still answer --help).</summary>
    public static IReadOnlyList<CliVerb> Verbs { get; } =
    [
        new(DemoCommand.Syntax, "the main job: the shipped shapes model unpruned vs PIO-FVLM, Random, FastV, DART, VisionZip at 33.3/22.2/11.1% on generated held-out questions; table, report and plots (configs/demo.json)", DemoCommand.Run),
        new(InspectCommand.Syntax, "tensors, bytes, dtypes and config of a checkpoint", InspectCommand.Run),
        new(EstimateCommand.Syntax, "FLOPs, KV cache and tokens per layer of one prefill, unpruned and pruned (no weights needed)", EstimateCommand.Run),
        new(GenerateCommand.Syntax, "greedy answer of a checkpoint (any implemented family) about one image, with timings", GenerateCommand.Run),
        new(MakeTinyCommand.Syntax, "write a random tiny LLaVA-1.5 model folder", MakeTinyCommand.Run),
        new(Macro.Llava7bPrefill.Syntax, "measure LLaVA-1.5-7B prefill, decode and pruner costs with random weights (scripts/measure_7b_prefill.sh)", Macro.Llava7bPrefill.Run, Hidden: true),
        new(Macro.Llava7bPrefill.Syntax with { Verb = Macro.Llava7bPrefill.AliasVerb }, "measure-llava-7b-prefill for any family's config (scripts/perf_report_next.sh, perf_report_qwen.sh)", Macro.Llava7bPrefill.Run, Hidden: true),
        new(Macro.LayerCostCurve.Syntax, "wall time of one LLaMA-7B decoder layer against sequence length (scripts/perf_report.sh)", Macro.LayerCostCurve.Run, Hidden: true),
        new(Macro.PerformanceReport.Syntax, "render a measure-llava-7b-prefill run as the performance report (scripts/perf_report.sh)", Macro.PerformanceReport.Run, Hidden: true),
        new(Macro.AttentionMemory.Syntax, "native peak memory of one LLaMA-7B-shape layer forward with the fused or the eager attention kernel (scripts/attention_memory.sh)", Macro.AttentionMemory.Run, Hidden: true),
        new(Macro.WindowAttentionTiming.Syntax, "one Qwen2.5-VL-7B-shape vision block with window vs full attention, alternating in one process", Macro.WindowAttentionTiming.Run, Hidden: true),
        new(CompareCommand.Syntax, "check a checkpoint against transformers: full-sequence logits and greedy tokens on transformers-style inputs (exit 0 within tolerance, 1 outside, 2 bad input)", CompareCommand.Run),
        new(MethodsCommand.Syntax, "registered pruning methods and schedule presets", MethodsCommand.Run),
        new(ScoreCommand.Syntax, "score a LLaVA answers jsonl in-process", ScoreCommand.Run),
        new(SubmissionCommand.Syntax, "the official servers' upload file (VQAv2 test-dev json, MMBench xlsx)", SubmissionCommand.Run),
        new(Eval.Runner.EvalCommand.Syntax, "answer a benchmark with every configured pruning method, resumable; report md/csv", Eval.Runner.EvalCommand.Run),
        new(Eval.Runner.MergeCommand.Syntax, "join shard answer files of one config (same config hash, no duplicate question)", Eval.Runner.MergeCommand.Run),
        new(TrainDemoCommand.Syntax, "train the demo model on generated shapes questions (resumable)", TrainDemoCommand.Run),
        new(BenchCommand.Syntax, "BenchmarkDotNet suites in-process (micro, macro, cost-curve)", BenchCommand.Run),
        new(Micro.SafetensorsThroughput.Syntax, "write and read back a large safetensors file, print GB/s", Micro.SafetensorsThroughput.Run),
    ];

    /// <summary>Exit 0 on success, 1 on a failure the command reports, 2 on a usage error (message on stderr).</summary>
    public static int Run(string[] args)
    {
        if (args.Length == 0)
        {
            PrintUsage(Console.Error);
            return 2;
        }
        if (args[0] is "-h" or "--help" or "help")
        {
            if (args.Length == 1)
            {
                PrintUsage(Console.Out);
                return 0;
            }
            if (args[0] == "help" && args.Length == 2 && Find(args[1]) is { } topic)
            {
                CommandHelp.Write(Console.Out, topic.Syntax, topic.Summary);
                return 0;
            }
            Console.Error.WriteLine($"pio-fvlm: no help for '{string.Join(' ', args[1..])}'; 'pio-fvlm help VERB' takes one of the verbs below.");
            PrintUsage(Console.Error);
            return 2;
        }
        var verb = Find(args[0]);
        if (verb == null)
        {
            Console.Error.WriteLine($"pio-fvlm: unknown command '{args[0]}'.");
            PrintUsage(Console.Error);
            return 2;
        }
        try
        {
            // The syntax is checked (and help answered) before the verb runs, so no verb starts work on bad arguments.
            if (new ArgReader(args[1..], verb.Syntax).HelpRequested)
            {
                CommandHelp.Write(Console.Out, verb.Syntax, verb.Summary);
                return 0;
            }
            return verb.Run(args[1..]);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"pio-fvlm {verb.Name}: {e.Message}");
            Console.Error.WriteLine($"usage: {verb.Syntax.Usage}");
            Console.Error.WriteLine($"see 'pio-fvlm {verb.Name} --help' for the options.");
            return 2;
        }
    }

    static CliVerb? Find(string name) => Verbs.FirstOrDefault(v => v.Name == name);

    static void PrintUsage(TextWriter w)
    {
        w.WriteLine("usage: pio-fvlm <command> [options]      ('pio-fvlm <command> --help' or 'pio-fvlm help <command>' for its options)");
        w.WriteLine();
        w.WriteLine("commands:");
        int width = Verbs.Where(v => !v.Hidden).Max(v => v.Name.Length) + 2;
        foreach (var v in Verbs.Where(v => !v.Hidden)) w.WriteLine("  " + v.Name.PadRight(width) + v.Summary);
    }
}

/// <summary>One verb: its syntax (name, arguments, options), a one-line summary, and the code that runs it.</summary>
public sealed record CliVerb(CommandSyntax Syntax, string Summary, Func<string[], int> Run, bool Hidden = false)
{
    public string Name => Syntax.Verb;
}

/// <summary>Bad command-line arguments; the message says which and what is expected.</summary>
public sealed class UsageException(string message) : Exception(message);
