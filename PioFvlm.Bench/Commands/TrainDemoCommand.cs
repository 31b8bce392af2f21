using System.Globalization;
using PioFvlm.Bench.Demo;
using PioFvlm.Core.Runtime;

namespace PioFvlm.Bench.Commands;

/// <summary>
/// <c>pio-fvlm train-demo --out DIR [--steps N] [--batch N] [--seed N] [--lr X] [--threads N]</c>: trains the demo
/// model on generated shapes questions (see <see cref="DemoTrainer"/>); re-running with the same DIR resumes from the
/// last checkpoint. <c>scripts/train_demo_model.sh</c> runs it with the settings of the shipped model.
/// </summary>
public static class TrainDemoCommand
{
    public static readonly CommandSyntax Syntax = new("train-demo",
    [
        CliOption.Require("out", "DIR", "the model folder; re-running with it resumes from the last checkpoint"),
        CliOption.Optional("steps", "N", "optimiser steps (default 2500)"),
        CliOption.Optional("batch", "N", "questions per step (default 32)"),
        CliOption.Optional("seed", "N", "weight and work-order seed (default 1)"),
        CliOption.Optional("lr", "X", "peak learning rate (default 1.5e-3)"),
        CliOption.Optional("threads", "N", "torch threads"),
        CliOption.Optional("eval-every", "N", "validate every N steps (default 200)"),
        CliOption.Optional("warmup", "N", "learning-rate warm-up steps (default 200)"),
        CliOption.Optional("data-seed", "N", "generator seed of the training questions (default 1)"),
        CliOption.Flag("column-labels", "grid-column patch labels"),
        CliOption.Optional("where-layer", "N", "add the loss on where the named shape is, read after decoder layer N"),
        CliOption.Optional("head-only", "N", "first N steps train only the auxiliary heads (warm restarts)"),
        CliOption.Optional("extra", "TYPE=X[,TYPE=X]", "share of each batch replaced by extra questions of a type (exist, colour, count, position; 0-1)"),
        CliOption.Optional("init-from", "MODEL_DIR", "warm restart from this finished model folder"),
        CliOption.Optional("stop-at", "ACC", "stop once validation accuracy reaches ACC"),
        CliOption.Flag("curves-only", "only redraw the training curves from DIR's log"),
    ]);

    static string Usage => Syntax.Usage;

    public static int Run(string[] args)
    {
        var a = new ArgReader(args, Syntax);
        string output = a.Value("out") ?? throw new UsageException($"--out DIR is required; usage: {Usage}");
        if (a.Flag("curves-only"))
        {
            // Redraws the plots of a finished (or running) training from its log.
            foreach (var png in TrainingCurves.Write(Path.Combine(output, "training-log.csv"), output)) Console.WriteLine($"wrote {png}");
            return 0;
        }
        var defaults = new DemoTrainingOptions { OutputDirectory = output };
        var options = defaults with
        {
            Steps = Int(a, "steps", defaults.Steps),
            BatchSize = Int(a, "batch", defaults.BatchSize),
            Seed = Int(a, "seed", defaults.Seed),
            EvaluateEvery = Int(a, "eval-every", defaults.EvaluateEvery),
            LearningRate = Double(a, "lr", defaults.LearningRate),
            StopAtAccuracy = Double(a, "stop-at", defaults.StopAtAccuracy),
            WarmupSteps = Int(a, "warmup", defaults.WarmupSteps),
            TrainDataSeed = Int(a, "data-seed", defaults.TrainDataSeed),
            ColumnLabels = a.Flag("column-labels"),
            WhereLayer = a.Value("where-layer") is null ? null : Int(a, "where-layer", 0),
            HeadOnlySteps = a.Value("head-only") is null ? 0 : Int(a, "head-only", 0),
            ExtraShare = a.Value("extra") is { } extra ? Shares(extra) : new Dictionary<string, double>(),
            InitialWeights = a.Value("init-from") is { } from ? RequireModelFolder(from) : null,
        };
        TorchRuntime.EnsureLoaded();
        int threads = Int(a, "threads", Environment.ProcessorCount);
        TorchSharp.torch.set_num_threads(threads);
        Console.WriteLine($"training the demo model into {output}: {options.Steps} steps x batch {options.BatchSize}, seed {options.Seed}, peak lr {options.LearningRate}, {threads} threads" +
            (options.ColumnLabels ? ", column labels" : "") + (options.WhereLayer is { } wl ? $", where loss after layer {wl}" : "") +
            string.Concat(options.ExtraShare.Select(kv => $", {kv.Value:P0} extra {kv.Key} questions")) + (options.InitialWeights is { } w ? $", starting from {w}" : ""));
        var accuracy = new DemoTrainer(options).Train(Console.Out);
        Console.WriteLine("final validation accuracy: " + string.Join("  ", accuracy.Select(kv => $"{kv.Key} {100 * kv.Value:F1}%")));
        return 0;
    }

    static string RequireModelFolder(string folder) =>
        File.Exists(Path.Combine(folder, "model.safetensors")) ? folder
            : throw new UsageException($"--init-from {folder}: no model.safetensors in that folder");

    static int Int(ArgReader a, string name, int fallback)
    {
        string? v = a.Value(name);
        if (v == null) return fallback;
        return int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0
            ? n : throw new UsageException($"--{name} must be a positive integer, got '{v}'");
    }

    static Dictionary<string, double> Shares(string spec)
    {
        var shares = new Dictionary<string, double>();
        foreach (var part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=');
            if (kv.Length != 2 || !ShapesQuestionType.All.Contains(kv[0]))
                throw new UsageException($"--extra: '{part}' is not TYPE=X with TYPE one of {string.Join(", ", ShapesQuestionType.All)}");
            if (!double.TryParse(kv[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double x) || x is < 0 or > 1)
                throw new UsageException($"--extra: the share of {kv[0]} must be a number from 0 to 1, got '{kv[1]}'");
            shares[kv[0]] = x;
        }
        if (shares.Values.Sum() > 1) throw new UsageException($"--extra: the shares add up to {shares.Values.Sum()}, more than the whole batch");
        return shares;
    }

    static double Double(ArgReader a, string name, double fallback)
    {
        string? v = a.Value(name);
        if (v == null) return fallback;
        return double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && x > 0
            ? x : throw new UsageException($"--{name} must be a positive number, got '{v}'");
    }
}
