using System.Globalization;
using System.Text;
using PioFvlm.Bench.Eval.Runner;
using PioFvlm.Bench.Overlays;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Models;
using PioFvlm.Core.Pruning;
using PioFvlm.Models;

namespace PioFvlm.Bench.Demo;

/// <summary>
/// The demo's pictures: for the first held-out question of each type (items 0-3 of the demo's generator seed: the
/// types cycle exist, colour, count, position), one PNG <c>kept/&lt;type&gt;.png</c> in the demo's output folder with
/// a panel per method at <see cref="Budget"/> (and KeepAll): the tokens still present at the last decoder layer at full
/// brightness, the rest dimmed, the tokens the question is about (<see cref="RelevantPatches"/>, as in the recall columns) outlined, and the
/// method's answer (green when right, red when wrong). The model answers afresh here, one question at a time, exactly
/// as the eval does (same prompt, same plan), so the answers are the ones the table counts.
/// </summary>
public static class DemoKeptPictures
{
    public const string Folder = "kept";
    public const string Budget = "11.1";

    /// <summary>Writes the pictures; returns their paths, one per question type in <see cref="ShapesQuestionType.All"/> order.</summary>
    public static IReadOnlyList<string> Write(RunOptions run, ShapesGeneratorOptions generator, int seed, string outputDirectory)
    {
        var methods = run.Methods.Where(m => m.Name == RunConfigLoader.ReferenceMethod || EvalPlots.Budget(m.Name) == Budget).ToList();
        string folder = Path.Combine(outputDirectory, Folder);
        Directory.CreateDirectory(folder);
        using var model = VlmLoader.FromPretrained(run.Model.Path, new LoadOptions { DType = run.Model.DType, Device = run.Model.Device, VisionTowerPath = run.Model.VisionTower });
        var options = new GenerationOptions { MaxNewTokens = run.Eval.MaxNewTokens };
        var paths = new List<string>();
        foreach (var sample in new ShapesGenerator(generator).Samples(seed, ShapesQuestionType.All.Count))
        {
            var image = ShapesRenderer.Render(sample.Scene);
            var tokens = VisualTokenLayout.For(model, image);
            var panels = new List<OverlayPanel>();
            // The same relevant patches as the recall columns (the demo's 8 x 8 grid of a square image); the Oracle
            // control gets them, as the eval runner hands them over, and no other method sees them.
            var relevant = RelevantPatches.Of(sample, (int)Math.Round(Math.Sqrt(tokens.Count)));
            foreach (var method in methods)
            {
                var plan = method.GroundTruthPlan is { } control ? control(relevant) : method.Plan;
                using var inputs = model.Prepare(model.FormatPrompt(DemoBatchBuilder.PromptText(sample.Question)), [image], options.MaxNewTokens);
                GenerationResult result;
                try { result = model.Generate(inputs, options, plan); }
                catch (NotSupportedException e)
                {
                    panels.Add(new OverlayPanel(method.Name, "refused: " + e.Message, []));
                    continue;
                }
                var steps = KeptVisualTokens.Trace(tokens.Count, result.Stats.PreLlm, result.Stats.Stages);
                var kept = steps.Count == 0 ? PruningStageReport.AllOf(tokens.Count) : steps[^1].Kept;
                string merged = steps.Count == 0 ? "" : KeptTokenPicture.Merged(steps[^1]);
                panels.Add(new OverlayPanel($"{method.Name}: {kept.Count} kept{merged}", "answer: " + result.Text.Trim(), kept.ToArray(),
                                            SimpleMatchScorer.Matches(result.Text, sample.Question.Answer)));
            }
            string path = Path.Combine(folder, sample.Question.Type + ".png");
            string heading = $"{sample.Question.Type} (held-out item {sample.Index}): {sample.Question.Text}  truth: {sample.Question.Answer}";
            KeptTokenOverlay.Write(path, image, tokens, panels, heading, relevant);
            paths.Add(path);
        }
        return paths;
    }

    /// <summary>The report's section that shows the pictures (paths relative to the report's folder).</summary>
    public static string Markdown(IReadOnlyList<string> paths, string reportDirectory)
    {
        var sb = new StringBuilder();
        sb.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"## What each method keeps at {Budget} %").AppendLine();
        sb.AppendLine("One held-out question per type. Bright: visual tokens still present at the last decoder layer; dimmed: dropped; " +
                      "magenta frame: the relevant patches of the recall columns (the shapes the question names, counts or asks about). " +
                      "Answers in green are right, in red wrong.").AppendLine();
        foreach (var p in paths)
            sb.AppendLine(CultureInfo.InvariantCulture, $"![{Path.GetFileNameWithoutExtension(p)}]({Path.GetRelativePath(reportDirectory, p).Replace('\\', '/')})").AppendLine();
        return sb.ToString();
    }
}
