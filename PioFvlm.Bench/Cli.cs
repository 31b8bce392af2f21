using PioFvlm.Bench.Commands;

namespace PioFvlm.Bench;

/// <summary>The pio-fvlm command line: one verb per subcommand, each in Commands/.</summary>
public static class Cli
{
    static readonly (string Verb, string Summary, Func<string[], int> Run)[] Verbs =
    {
        ("demo", "demo [CONFIG] [--count N] [--Run:Section:Key=value ...]: the main job: the shipped shapes model unpruned vs PIO-FVLM, Random, FastV, DART, VisionZip at 33.3/22.2/11.1% on generated held-out questions; table, report and plots (configs/demo.json)", DemoCommand.Run),
        ("inspect", "inspect PATH [--verify] [--json]: tensors, bytes, dtypes and config of a checkpoint", InspectCommand.Run),
        ("estimate", "estimate --model (llava-1.5-7b|llava-next-7b|qwen2.5-vl-7b|PATH) [--visual N] [--text T] [--schedule PRESET | --stages \"1:218,10:128,15:54\"] [--pre-llm K] [--dtype Float16] [--json]: FLOPs, KV cache and tokens per layer of one prefill", EstimateCommand.Run),
        ("generate", "generate --model DIR --image FILE --prompt TEXT [--max-new-tokens N] [--dtype Float32|BFloat16|Float16] [--vision-tower DIR] [--schedule PRESET | --pruning FILE] [--json]: greedy answer and timings", GenerateCommand.Run),
        ("make-tiny", "make-tiny --out DIR [--layout hf|modern|research] [--seed N] [--dtype F16|F32] [--shards N] [--tokenizer DIR]: write a random tiny LLaVA-1.5 model folder", MakeTinyCommand.Run),
        ("measure-llava-7b-prefill", "", Macro.Llava7bPrefill.Run),   // hidden: scripts/measure_7b_prefill.sh
        ("measure-layer-cost", "", Macro.LayerCostCurve.Run),   // hidden: scripts/perf_report.sh
        ("perf-report", "", Macro.PerformanceReport.Run),   // hidden: scripts/perf_report.sh
        ("compare", CompareCommand.Usage + ": check a checkpoint against transformers' logits and greedy tokens (exit 0 within tolerance, 1 outside, 2 bad input)", CompareCommand.Run),
        ("methods", "methods [--json]: registered pruning methods and schedule presets", MethodsCommand.Run),
        ("score", "score --benchmark (pope|textvqa|vqav2|gqa|mme|scienceqa|mmbench) --answers FILE --annotations PATH [--questions FILE] [--json]: score a LLaVA answers jsonl in-process", ScoreCommand.Run),
        ("submission", "submission --benchmark vqav2|mmbench --answers FILE --questions FILE --out FILE: the official servers' upload file (VQAv2 test-dev json, MMBench xlsx)", SubmissionCommand.Run),
        ("eval", "eval CONFIG.json [--Run:Section:Key=value ...] [--limit N] [--shard i/n] [--output DIR]: answer a benchmark with every configured pruning method, resumable; report md/csv", Eval.Runner.EvalCommand.Run),
        ("merge", "merge --out FILE ANSWERS.jsonl ...: join shard answer files of one config (same config hash, no duplicate question)", Eval.Runner.MergeCommand.Run),
        ("train-demo", "train-demo --out DIR [--steps N] [--batch N] [--seed N] [--lr X] [--threads N]: train the demo model on generated shapes questions (resumable)", TrainDemoCommand.Run),
        ("bench", "bench [--threads N] [BenchmarkDotNet arguments]: BenchmarkDotNet suites in-process (--anyCategories micro|macro|cost-curve, --filter *Nms*, --list flat)", BenchCommand.Run),
        ("io-throughput", "io-throughput [GB] [DIR]: write and read back a large safetensors file, print GB/s", Micro.SafetensorsThroughput.Run),
    };

    public static int Run(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            PrintUsage(Console.Out);
            return args.Length == 0 ? 2 : 0;
        }
        foreach (var (verb, _, run) in Verbs)
        {
            if (verb != args[0]) continue;
            try
            {
                return run(args[1..]);
            }
            catch (UsageException e)
            {
                Console.Error.WriteLine($"pio-fvlm {verb}: {e.Message}");
                return 2;
            }
        }
        Console.Error.WriteLine($"pio-fvlm: unknown command '{args[0]}'.");
        PrintUsage(Console.Error);
        return 2;
    }

    static void PrintUsage(TextWriter w)
    {
        w.WriteLine("usage: pio-fvlm <command> [options]");
        foreach (var (_, summary, _) in Verbs.Where(v => v.Summary.Length > 0)) w.WriteLine("  " + summary);
    }
}

/// <summary>Bad command-line arguments; the message says which and what is expected.</summary>
public sealed class UsageException(string message) : Exception(message);
