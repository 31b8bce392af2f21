using System.Text.Json;
using System.Text.Json.Nodes;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Vision;
using PioFvlm.Models;
using PioFvlm.Core.Models;
using PioFvlm.Core.Pruning;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Eval.Runner;

/// <summary>The files one run wrote.</summary>
public sealed record EvalRunResult(IReadOnlyList<EvalReportRow> Rows, IReadOnlyDictionary<string, string> AnswerFiles,
                                   string ReportMarkdown, string ReportCsv, string ResolvedConfig, string Versions);

/// <summary>
/// Answers the (sharded, limited) questions with every method of a run, KeepAll first, one flushed line per answer in
/// <c>OUT/METHOD/answers[.shard-i-of-n].jsonl</c>, resuming what a previous run of the same config left; then writes
/// <c>OUT/report[.shard-i-of-n].md|.csv</c>, <c>resolved-config…json</c> and <c>versions…json</c>. Everything that
/// can fail without the weights (questions, images, a resume under another config) fails before they are loaded.
/// A method the model refuses (<see cref="NotSupportedException"/>, e.g. a CLS-based encoder method on Qwen2.5-VL)
/// stops at its first question: its message goes to stderr and to <c>OUT/METHOD/refused[.shard-i-of-n].txt</c>, the
/// report shows it in the method's row, and the other methods run.
/// </summary>
public static class EvalRunner
{
    public static EvalRunResult Run(RunOptions run, IEvalDataset dataset, TextWriter? progressWriter = null)
    {
        var (shardIndex, shardCount) = run.Shard;
        string suffix = shardCount == 1 ? "" : $".shard-{shardIndex}-of-{shardCount}";
        var all = dataset.Load(run.Eval.Dataset, run.Eval.ImageFolder);
        var questions = Select(all, shardIndex, shardCount, run.Eval.Limit);
        foreach (var q in questions)
            if (q.ImagePath is not null && !File.Exists(q.ImagePath))
                throw new FileNotFoundException($"question {q.QuestionId}: image not found: {q.ImagePath}", q.ImagePath);
        if (!Directory.Exists(run.Model.Path)) throw new DirectoryNotFoundException($"Run:Model:Path: model folder not found: {run.Model.Path}");
        if (run.Methods.FirstOrDefault(m => m.GroundTruthPlan is not null) is { } control
            && questions.FirstOrDefault(q => GroundTruth.Relevant(q) is null) is { } without)
            throw new RunConfigException($"Run:Methods:{control.Name} needs each question's ground-truth relevant tokens ({GroundTruth.RelevantField}), " +
                                         $"and question {without.QuestionId} of {run.Eval.Dataset} has none (only the shapes demo data has them)");

        string outDir = run.Output.Directory;
        Directory.CreateDirectory(outDir);
        string resolvedPath = Path.Combine(outDir, $"resolved-config{suffix}.json");

        var files = new List<(MethodSpec Method, AnswerFile File)>();
        try
        {
            foreach (var m in run.Methods)
                files.Add((m, AnswerFile.OpenOrResume(Path.Combine(outDir, m.Name, $"answers{suffix}.jsonl"), ConfigHash.Of(run, m), m.Name, run.Eval.Shard)));
            // Only once every answers file accepted this config: a refused resume leaves the old resolved config in place.
            AtomicFile.WriteAllText(resolvedPath, Resolved(run).ToJsonString(Indented));
            long pending = files.Sum(f => questions.Count(q => !f.File.Answered.Contains(q.QuestionId)));
            string versionsPath = Path.Combine(outDir, $"versions{suffix}.json");
            if (pending > 0) Answer(run, questions, files, pending, progressWriter, versionsPath);
            else if (!File.Exists(versionsPath)) AtomicFile.WriteAllText(versionsPath, RunEnvironment.Describe(run).ToJsonString(Indented));

            var selected = questions.Select(q => q.QuestionId).ToHashSet();
            var answers = files.Select(f => (f.Method.Name, (IReadOnlyList<AnswerRecord>)AnswerFile.Read(f.File.Path)
                                                .Where(a => selected.Contains(a.QuestionId)).ToList())).ToList();
            var refusals = files.Select(f => RefusalPath(f.File.Path)).Where(File.Exists)
                .ToDictionary(p => Path.GetFileName(Path.GetDirectoryName(p)!), File.ReadAllText);
            var rows = EvalReport.Rows(answers, questions, Scorer(run), refusals);
            string md = Path.Combine(outDir, $"report{suffix}.md"), csv = Path.Combine(outDir, $"report{suffix}.csv");
            string title = $"{Path.GetFileName(run.Model.Path)} on {Path.GetFileName(run.Eval.Dataset)} ({questions.Count} questions{(suffix.Length > 0 ? $", shard {shardIndex}/{shardCount}" : "")})";
            AtomicFile.WriteAllText(md, EvalReport.Markdown(rows, title));
            AtomicFile.WriteAllText(csv, EvalReport.Csv(rows));
            EvalPlots.Write(rows, outDir, suffix, Path.GetFileNameWithoutExtension(run.Eval.Dataset));
            return new EvalRunResult(rows, files.ToDictionary(f => f.Method.Name, f => f.File.Path), md, csv, resolvedPath, versionsPath);
        }
        finally
        {
            foreach (var (_, f) in files) f.Dispose();
        }
    }

    /// <summary>Where a method's refusal is written: beside its answers file, <c>refused[.shard-i-of-n].txt</c>.</summary>
    public static string RefusalPath(string answersPath) =>
        Path.Combine(Path.GetDirectoryName(answersPath)!, Path.GetFileName(answersPath).Replace("answers", "refused", StringComparison.Ordinal)
            .Replace(".jsonl", ".txt", StringComparison.Ordinal));

    /// <summary>The configured benchmark scorer's headline metric, or null for the simple answer match.</summary>
    static Func<IReadOnlyList<AnswerRecord>, double?>? Scorer(RunOptions run)
    {
        if (run.Eval.Benchmark is not string name) return null;
        var scorer = Scoring.ScorerRegistry.Create(name);
        var inputs = new ScoringInputs(run.Eval.Annotations!, run.Eval.Dataset);
        return answers =>
        {
            if (answers.Count == 0) return null;
            try { return scorer.Score(answers, inputs).Main; }
            catch (Exception e) when (e is Datasets.EvalDataException or FormatException or ArgumentException)
            {
                // A partial run (--limit, one shard) cannot be scored by every benchmark (POPE pairs by position):
                // the report still gets written, with the score left blank and the reason on stderr.
                Console.Error.WriteLine($"{name} score not computed: {e.Message}");
                return null;
            }
        };
    }

    /// <summary>Shard i of n takes questions whose file index ≡ i (mod n); the limit applies within the shard.</summary>
    public static IReadOnlyList<EvalSample> Select(IReadOnlyList<EvalSample> all, int shardIndex, int shardCount, int? limit)
    {
        var shard = all.Where((_, i) => i % shardCount == shardIndex);
        return (limit is int n ? shard.Take(n) : shard).ToList();
    }

    static void Answer(RunOptions run, IReadOnlyList<EvalSample> questions, List<(MethodSpec Method, AnswerFile File)> files,
                       long pending, TextWriter? progressWriter, string versionsPath)
    {
        using var model = VlmLoader.FromPretrained(run.Model.Path, new LoadOptions { DType = run.Model.DType, Device = run.Model.Device, VisionTowerPath = run.Model.VisionTower });
        AtomicFile.WriteAllText(versionsPath, RunEnvironment.Describe(run).ToJsonString(Indented));
        string modelId = Path.GetFileName(run.Model.Path.TrimEnd(Path.DirectorySeparatorChar));
        var options = new GenerationOptions { MaxNewTokens = run.Eval.MaxNewTokens };
        using var progress = Commands.ProgressReporter.Start("eval", pending, progressWriter);
        long done = 0;
        foreach (var (method, file) in files)
        {
            int matched = 0, judged = 0;   // running score against the question file's answer/label, when it has one
            string refusal = RefusalPath(file.Path);
            File.Delete(refusal);   // a refusal of an earlier run is retried, and forgotten when the method now runs
            foreach (var q in questions)
            {
                if (file.Answered.Contains(q.QuestionId)) continue;
                var images = q.ImagePath is null ? Array.Empty<RgbImage>() : [ImageDecoder.Decode(q.ImagePath)];
                using var inputs = model.Prepare(model.FormatPrompt(q.Text, images.Length), images, options.MaxNewTokens);
                // The ground truth goes to the control that asks for it (Oracle) and to the recall record, never to a method.
                var relevant = GroundTruth.Relevant(q);
                var plan = method.GroundTruthPlan is { } control ? control(relevant!) : method.Plan;
                GenerationResult result;
                try { result = model.Generate(inputs, options, plan); }
                catch (NotSupportedException e)
                {
                    // The method cannot run on this model (e.g. a CLS-attention method on a CLS-free tower): the run goes
                    // on with the other methods, and the report names the refusal instead of a score.
                    string message = $"{method.Name} refused on {Path.GetFileName(run.Model.Path)} ({model.Profile.Family}): {e.Message}";
                    AtomicFile.WriteAllText(refusal, message);
                    Console.Error.WriteLine($"pio-fvlm eval: {message}");
                    done += questions.Count(x => !file.Answered.Contains(x.QuestionId)) - 1;
                    progress.Report(++done, method.Name, null);
                    break;
                }
                var metadata = SampleMetrics.From(result.Stats, method.Plan, model.Profile.Text).ToMetadata();
                metadata["method"] = method.Name;
                if (relevant is not null) metadata[KeptTraceField.Key] = KeptTraceField.Format(KeptTokenTrace.Of(result.Stats));
                file.Write(new AnswerRecord(q.QuestionId, q.Text, result.Text, Guid.NewGuid().ToString("N")[..22], modelId, metadata));
                if (SimpleMatchScorer.Truth(q) is string truth)
                {
                    judged++;
                    if (SimpleMatchScorer.Matches(result.Text, truth)) matched++;
                }
                progress.Report(++done, method.Name, judged == 0 ? null : (double)matched / judged);
            }
        }
    }

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The run after layering, defaults and path resolution, with each method's config hash.</summary>
    public static JsonObject Resolved(RunOptions run)
    {
        var methods = new JsonObject();
        foreach (var m in run.Methods)
            methods[m.Name] = new JsonObject
            {
                ["config"] = m.CanonicalJson == RunConfigLoader.ReferenceMethod ? m.CanonicalJson : JsonNode.Parse(m.CanonicalJson),
                ["plan"] = m.Plan.Name,
                ["config_hash"] = ConfigHash.Of(run, m),
            };
        return new JsonObject
        {
            ["Run"] = new JsonObject
            {
                ["Model"] = JsonSerializer.SerializeToNode(run.Model, Enums),
                ["Methods"] = methods,
                ["Eval"] = JsonSerializer.SerializeToNode(run.Eval),
                ["Output"] = JsonSerializer.SerializeToNode(run.Output),
            },
        };
    }

    static readonly JsonSerializerOptions Enums = new() { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };
}
