using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using PioFvlm.Bench.Demo;
using PioFvlm.Bench.Eval;
using PioFvlm.Bench.Eval.Runner;
using PioFvlm.Bench.Eval.Scoring;
using PioFvlm.Models;

namespace PioFvlm.Bench.Commands;

/// <summary>
/// <c>pio-fvlm demo [CONFIG] [--count N] [--Run:Section:Key=value ...]</c>: the main job on the embedded default.
/// Generates the held-out shapes questions (seed and count from the config's <c>Demo</c> section), answers them with
/// the shipped demo model unpruned and with every configured method (resumably, through <c>eval</c>), answers them once
/// more with the image blanked (the control), and prints and writes the demo table (score overall and per type,
/// retention, prefill speedup, FLOPs, KV cache) plus the eval plots. CONFIG defaults to <c>configs/demo.json</c>.
/// </summary>
public static class DemoCommand
{
    public const string DefaultConfig = "configs/demo.json";
    public const string RecallPlotFile = "accuracy-vs-recall.png";
    public static readonly CommandSyntax Syntax = new("demo",
    [
        CliOption.Optional("count", "N", "number of held-out questions, at least 4 (default: the config's Demo:Count)"),
    ])
    {
        Arguments = [new("CONFIG", $"the run config with a Demo section (default: {DefaultConfig}, searched upwards from the current folder)", Required: false)],
        ConfigOverrides = true,
    };

    static string Usage => Syntax.Usage;

    public static int Run(string[] args)
    {
        string? config = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : FindDefault();
        if (config is null)
        {
            Console.Error.WriteLine($"pio-fvlm demo: {DefaultConfig} not found above {Environment.CurrentDirectory}; pass the config path (usage: {Usage})");
            return 1;
        }
        var rest = (args.Length > 0 && args[0] == config ? args[1..] : args).ToList();
        int? countOverride = null;
        int at = rest.IndexOf("--count");
        if (at >= 0)
        {
            if (at + 1 >= rest.Count || !int.TryParse(rest[at + 1], NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 4)
                throw new UsageException("--count needs an integer of at least 4 (one question of each type)");
            countOverride = n;
            rest.RemoveRange(at, 2);
        }
        try
        {
            return RunDemo(config, rest, countOverride);
        }
        catch (Exception e) when (e is RunConfigException or Eval.Datasets.EvalDataException or FileNotFoundException or DirectoryNotFoundException
                                       or FormatException or InvalidOperationException or ArgumentException or IOException)
        {
            Console.Error.WriteLine($"pio-fvlm demo: {e.Message}");
            return 1;
        }
    }

    static int RunDemo(string config, IReadOnlyList<string> overrides, int? countOverride)
    {
        var clock = Stopwatch.StartNew();
        var settings = DemoSettings.Read(config);
        int count = countOverride ?? settings.Count;
        int threadsBefore = TorchSharp.torch.get_num_threads();
        TorchSharp.torch.set_num_threads(settings.Threads);
        try { return RunDemo(config, overrides, settings, count, clock); }
        finally { TorchSharp.torch.set_num_threads(threadsBefore); }
    }

    static int RunDemo(string config, IReadOnlyList<string> overrides, DemoSettings settings, int count, Stopwatch clock)
    {
        var run = RunConfigLoader.Load(config, overrides, environment: null, extraSections: ["Demo"]);
        if (!string.Equals(run.Eval.Benchmark, "shapes", StringComparison.OrdinalIgnoreCase))
            throw new RunConfigException($"{config}: Run:Eval:Benchmark must be 'shapes' for the demo, got '{run.Eval.Benchmark}'");
        var (imageSize, visualTokens) = DemoModelShape(run.Model.Path);

        string dataDir = Path.GetDirectoryName(run.Eval.Dataset)!;
        var generator = new ShapesGeneratorOptions { ImageSize = imageSize };
        Console.WriteLine($"generating {count} held-out questions (generator seed {settings.Seed}) in {dataDir} ...");
        int grid = (int)Math.Round(Math.Sqrt(visualTokens));
        if (grid * grid != visualTokens)
            throw new RunConfigException($"{run.Model.Path}: the demo model has {visualTokens} visual tokens, not a square patch grid");
        ShapesDataset.Write(dataDir, generator, settings.Seed, count, grid);
        if (Path.GetFileName(run.Eval.Dataset) != ShapesDataset.Questions)
            throw new RunConfigException($"{config}: Run:Eval:Dataset must name {ShapesDataset.Questions} in the generated folder, got {run.Eval.Dataset}");
        run = run with { Eval = run.Eval with { Annotations = run.Eval.Dataset } };

        Console.WriteLine($"answering with {run.Methods.Count} methods ({string.Join(", ", run.Methods.Select(m => m.Name))}) ...");
        var main = EvalRunner.Run(run, new LlavaQuestionJsonl());
        string blankQuestions = Path.Combine(dataDir, ShapesDataset.BlankQuestions);
        var blankRun = run with
        {
            Methods = run.Methods.Where(m => m.Name == RunConfigLoader.ReferenceMethod).ToList(),
            Eval = run.Eval with { Dataset = blankQuestions, ImageFolder = null, Annotations = blankQuestions },
            Output = run.Output with { Directory = Path.Combine(run.Output.Directory, "blank-image") },
        };
        Console.WriteLine("control: the unpruned model with every image blanked (flat grey) ...");
        var blank = EvalRunner.Run(blankRun, new LlavaQuestionJsonl());

        var scorer = new ShapesScorer();
        var reference = main.Rows.First(r => r.Method == RunConfigLoader.ReferenceMethod);
        var questionSamples = new LlavaQuestionJsonl().Load(run.Eval.Dataset, run.Eval.ImageFolder);
        var questionIds = questionSamples.Select(q => q.QuestionId).ToHashSet();
        DemoRow Scored(EvalRunResult result, EvalReportRow r, string questions, string? name = null)
        {
            // A resumed folder may hold answers to more questions (an earlier, larger --count): score this run's only.
            var answers = AnswerFile.Read(result.AnswerFiles[r.Method]).Where(a => questionIds.Contains(a.QuestionId)).ToList();
            return DemoReport.Row(r, scorer.Score(answers, new ScoringInputs(questions, questions)).Metrics, reference.PrefillMs, name)
                with { Recall = RelevantRecall.Summarize(answers, questionSamples) };
        }
        var rows = main.Rows.Select(r => Scored(main, r, run.Eval.Dataset)).ToList();
        var control = Scored(blank, blank.Rows[0], blankQuestions, "KeepAll, image blanked") with { Retention = null, PrefillSpeedup = double.NaN, Recall = null };
        var table = DemoReport.Order(rows, [control]);

        string md = Path.Combine(run.Output.Directory, "demo-report.md");
        string csv = Path.Combine(run.Output.Directory, "demo-report.csv");
        string recallPlot = EvalPlots.Save(Path.Combine(run.Output.Directory, RecallPlotFile), "shapes demo: accuracy vs relevant-token recall",
            "relevant-token recall at the last layer (%)", "score (%)",
            rows.Where(r => r.Recall is not null).Select(r => (r.Method, r.Recall!.LastLayer, r.Score)));
        string text = Markdown(table, count, settings.Seed, run, visualTokens, clock.Elapsed);
        // Kept-token pictures (issue 17, item 2): a separate pass over one held-out question per type.
        var pictures = DemoKeptPictures.Write(run, generator, settings.Seed, run.Output.Directory);
        text += DemoKeptPictures.Markdown(pictures, run.Output.Directory);
        AtomicFile.WriteAllText(md, text);
        AtomicFile.WriteAllText(csv, DemoReport.Csv(table));
        Console.WriteLine();
        Console.WriteLine(DemoReport.Table(table));
        Console.WriteLine($"report: {md}, {csv}");
        Console.WriteLine(DemoReport.RecallTable(table));
        Console.WriteLine($"plots:  {Path.Combine(run.Output.Directory, EvalPlots.ScoreFile)}, {Path.Combine(run.Output.Directory, EvalPlots.SpeedupFile)}, {recallPlot}");
        Console.WriteLine($"kept-token pictures: {string.Join(", ", pictures)}");
        Console.WriteLine($"demo done in {clock.Elapsed:mm\\:ss}");
        return 0;
    }

    /// <summary>
    /// The demo model's image side (the generator draws images of that size) and visual tokens per image, from the model
    /// itself: the questions are generated for it, so it must be the LLaVA-1.5 architecture the demo trains.
    /// </summary>
    static (int ImageSize, long VisualTokens) DemoModelShape(string path)
    {
        try
        {
            using var model = VlmLoader.FromPretrained(path);
            return (VlmFamilies.Llava15Modules(model).Architecture.Vision.ImageSize, model.Profile.NominalVisualTokens);
        }
        catch (NotSupportedException e)
        {
            throw new RunConfigException($"{path}: the demo model must be a LLaVA-1.5 checkpoint ({e.Message})");
        }
    }

    static string Markdown(IReadOnlyList<DemoRow> table, int count, int seed, RunOptions run, long visualTokens, TimeSpan elapsed)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# PioFvlm demo: visual-token pruning on the shapes benchmark").AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Model: `{Path.GetFileName(run.Model.Path)}` ({run.Model.DType}, {run.Model.Device}). " +
                      $"Questions: {count} held-out, generator seed {seed} (never used in training); types cycle exist, colour, count, position (25 % each). " +
                      $"Machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}; date {DateTime.UtcNow:yyyy-MM-dd}; wall time {elapsed:mm\\:ss}.").AppendLine();
        sb.AppendLine("Budget = visual tokens kept, as a share of the " + visualTokens.ToString(CultureInfo.InvariantCulture) + " the model sees; intra-LLM methods keep them from layer 1 on (PIO-FVLM: the " +
                      "average over its three stages), VisionZip before the LLM. 'visual tokens / layer' averages over all decoder layers. " +
                      "Prefill = decoder layers + pruning work (vision tower excluded); speedup vs KeepAll in the same run.").AppendLine();
        sb.Append(DemoReport.Table(table)).AppendLine();
        sb.AppendLine("## Relevant-token recall").AppendLine();
        sb.AppendLine("Recall = the share of a question's relevant patches (those of the shapes it is about: every patch a shape covers " +
                      $"at least 1/{RelevantPatches.CoverDivisor} of, plus each shape's centre patch) still present as visual tokens, averaged over " +
                      "questions; 'recall %' in the table above is at the last decoder layer. After each stage: 'pre' before the LLM, " +
                      "'L1' after decoder layer 1, and so on; merged or pooled tokens count as absent. Oracle keeps the relevant " +
                      "patches first and fills the budget at random (Random's seeded draw, at Random's layer). " +
                      $"`{RecallPlotFile}` plots score against recall, one point per method and budget.").AppendLine();
        sb.Append(DemoReport.RecallTable(table));
        return sb.ToString();
    }

    static string? FindDefault() => RepoFiles.FindUpwards(DefaultConfig, besideProgram: false);

    /// <summary>The config's <c>Demo</c> section: the held-out generator seed, the number of questions and the torch
    /// threads (optional, default 1: the demo model's ops are so small that a second thread costs more than it gives;
    /// measured 67 s against 75 s for 200 questions on the 2-core machine, same answers).</summary>
    sealed record DemoSettings(int Seed, int Count, int Threads)
    {
        public static DemoSettings Read(string config)
        {
            var demo = JsonNode.Parse(File.ReadAllText(config))?["Demo"]
                       ?? throw new RunConfigException($"{config}: no Demo section (Demo:Seed, Demo:Count)");
            int Int(string key) => demo[key] is JsonValue v && v.TryGetValue(out int i) && i > 0
                ? i : throw new RunConfigException($"{config}: Demo:{key} must be a positive integer");
            int threads = demo["Threads"] is null ? 1 : Int("Threads");
            return new DemoSettings(Int("Seed"), Int("Count"), threads);
        }
    }
}
