using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using PioFvlm.Core.Models;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Efficiency;
using PioFvlm.Models;
using PioFvlm.Models.Configs;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Commands;

/// <summary>
/// <c>pio-fvlm estimate --model (PRESET|PATH/config.json) [--image WxH | --visual N] [--text T] [--schedule PRESET |
/// --stages "1:218,10:128,15:54"] [--pre-llm K] [--dtype Float16] [--json]</c>: theoretical per-layer tokens, FLOPs
/// (paper convention and exact), probe FLOPs and KV cache of one prefill, unpruned and pruned. The model's family
/// profile gives the decoder, the visual-token arithmetic of <c>--image</c> and the presets <c>--schedule</c> names.
/// No weights are loaded and libtorch is not needed. Exit 0; 1 when a config file is unreadable; 2 for bad arguments.
/// </summary>
public static class EstimateCommand
{
    /// <summary>Text tokens when --text is absent: the POPE prompt length that reproduces the paper's KV column (§10.1).</summary>
    public const int DefaultTextTokens = 60;

    public static readonly CommandSyntax Syntax = new("estimate",
    [
        CliOption.Require("model", "PRESET|PATH", $"one of {string.Join(", ", ModelProfiles.Named.Select(p => p.Name))} or a config.json path"),
        CliOption.Optional("visual", "N", "visual tokens entering the LLM (default: the model's nominal count); not with --image"),
        CliOption.Optional("image", "WxH", "count the visual tokens of a W x H image as the family's processor does (NeXT anyres, Qwen smart_resize)"),
        CliOption.Optional("text", "T", $"text tokens (default {DefaultTextTokens})"),
        CliOption.Optional("schedule", "PRESET", "a pruning schedule preset of the model's family (see 'pio-fvlm methods'); not with --stages"),
        CliOption.Optional("stages", "\"1:218,10:128\"", "custom stages: layer:keep, keep a count or a fraction with a decimal point"),
        CliOption.Optional("pre-llm", "K", "visual tokens kept before the LLM: a count, or a fraction with a decimal point"),
        CliOption.Optional("dtype", "Float16|BFloat16|Float32", "KV cache dtype (default Float16)"),
        CliOption.Flag("json", "print the estimate as JSON"),
    ]);

    public static int Run(string[] args) => Run(args, Console.Out);

    public static int Run(string[] args, TextWriter output)
    {
        var a = new ArgReader(args, Syntax);
        if (a.Positional.Count > 0) throw new UsageException($"unexpected argument '{a.Positional[0]}'");
        string modelArg = a.Value("model") ?? throw new UsageException(
            $"--model is required: one of {PresetNames} or a config.json path");
        ModelProfile model;
        try
        {
            model = ResolveModel(modelArg);
        }
        catch (Exception e) when (e is ConfigFormatException or UnsupportedModelException or NotSupportedException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"pio-fvlm estimate: {e.Message}");
            return 1;
        }

        if (a.Value("visual") != null && a.Value("image") != null) throw new UsageException("give either --visual or --image, not both");
        var image = ParseImage(a.Value("image"));
        long visual = ParseCount(a.Value("visual"), "--visual")
            ?? (image is { } size ? VisualTokensOf(model, size.Width, size.Height) : model.NominalVisualTokens);
        long text = ParseCount(a.Value("text"), "--text") ?? DefaultTextTokens;
        var dtype = ParseDType(a.Value("dtype") ?? "Float16");
        var schedule = ResolveSchedule(model, a.Value("schedule"), a.Value("stages"), a.Value("pre-llm"));
        var dims = model.Text;

        var baseline = EfficiencyReport.Estimate(TokenSchedule.Unpruned(dims.NumLayers, visual, text), dims, dtype);
        EfficiencyReport? pruned = null;
        if (schedule != null)
        {
            TokenSchedule tokens;
            try
            {
                tokens = TokenSchedule.Build(dims.NumLayers, schedule.VisualEnteringLlm(visual), text, schedule.Stages);
            }
            catch (ArgumentException e)
            {
                throw new UsageException($"schedule '{schedule.Name}' does not fit {modelArg}: {e.Message}");
            }
            pruned = EfficiencyReport.Estimate(tokens, dims, dtype);
        }

        var run = new Estimate(modelArg, model, image, visual, text, dtype, schedule, baseline, pruned);
        if (a.Flag("json")) output.WriteLine(ToJson(run).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        else WriteTable(output, run);
        return 0;
    }

    /// <summary>One estimate's inputs and results, for the two writers.</summary>
    sealed record Estimate(string Name, ModelProfile Model, (int Width, int Height)? Image, long Visual, long Text, ScalarType DType,
                           SchedulePreset? Schedule, EfficiencyReport Baseline, EfficiencyReport? Pruned);

    static string PresetNames => string.Join(", ", ModelProfiles.Named.Select(p => p.Name));

    /// <summary>A named profile, else the profile of a config.json file or model folder read with
    /// <see cref="HfConfigLoader"/> (a research LLaVA-1.5 config without its tower's is taken as CLIP ViT-L/14-336).</summary>
    public static ModelProfile ResolveModel(string value)
    {
        if (ModelProfiles.Find(value) is { } preset) return preset;
        if (!File.Exists(value) && !Directory.Exists(value))
            throw new UsageException($"--model '{value}' is neither a preset ({PresetNames}) nor an existing config.json path");
        var config = HfConfigLoader.Load(value);
        return ModelProfiles.For(config, config is LlavaConfig { Vision: null } ? ClipVisionConfig.ClipVitLargePatch14_336 : null);
    }

    static long VisualTokensOf(ModelProfile model, int width, int height)
    {
        try { return model.VisualTokensForImage(width, height); }
        catch (ArgumentException e) { throw new UsageException($"--image {width}x{height}: {e.Message}"); }
    }

    /// <summary>"640x480" (or ×) as (width, height); null stays null.</summary>
    /// <exception cref="UsageException">Not two positive whole numbers around an x.</exception>
    internal static (int Width, int Height)? ParseImage(string? value)
    {
        if (value == null) return null;
        var parts = value.ToLowerInvariant().Split('x', '×');
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int w) && w > 0
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int h) && h > 0)
            return (w, h);
        throw new UsageException($"--image '{value}' is not WIDTHxHEIGHT in pixels, e.g. 640x480");
    }

    static long? ParseCount(string? value, string option)
    {
        if (value == null) return null;
        if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n > int.MaxValue)
            throw new UsageException($"{option} '{value}' is not a non-negative whole number");
        return n;
    }

    static ScalarType ParseDType(string value) => value.ToLowerInvariant() switch
    {
        "float16" or "fp16" or "half" => ScalarType.Float16,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float32" or "fp32" or "float" => ScalarType.Float32,
        _ => throw new UsageException($"--dtype '{value}' is not one of Float16, BFloat16, Float32"),
    };

    /// <summary>The schedule from --schedule (a preset of <paramref name="model"/>'s family) or --stages, with --pre-llm
    /// replacing any pre-LLM stage; null when none.</summary>
    public static SchedulePreset? ResolveSchedule(ModelProfile model, string? preset, string? stages, string? preLlm)
    {
        if (preset != null && stages != null) throw new UsageException("give either --schedule or --stages, not both");
        SchedulePreset? schedule = null;
        if (preset != null)
        {
            try { schedule = model.Preset(preset); }
            catch (KeyNotFoundException e) { throw new UsageException($"--schedule: {e.Message}"); }
        }
        else if (stages != null) schedule = new SchedulePreset("custom", $"--stages {stages}", null, null, ParseStages(stages));
        if (preLlm == null) return schedule;
        var (keep, ratio) = ParsePreLlm(preLlm);
        return (schedule ?? new SchedulePreset("custom", "pre-LLM only", null, null, [])) with { PreLlmKeep = keep, PreLlmRatio = ratio };
    }

    /// <summary>
    /// "r:keep,r:keep,...": r = decoder layers run before the stage (1-based), keep = an absolute count, or a fraction
    /// with a decimal point (of the current count, as the reference Qwen code). Stages in increasing r.
    /// </summary>
    public static IReadOnlyList<PruningStage> ParseStages(string text)
    {
        const string Expected = "expected comma-separated r:keep pairs with increasing r, e.g. \"1:218,10:128,15:54\" (keep may be a fraction such as 14:0.333)";
        if (string.IsNullOrWhiteSpace(text)) throw new UsageException($"--stages is empty; {Expected}");
        var stages = new List<PruningStage>();
        foreach (var raw in text.Split(','))
        {
            var item = raw.Trim();
            var parts = item.Split(':');
            if (parts.Length != 2)
                throw new UsageException($"--stages item '{item}' is not of the form r:keep; {Expected}");
            if (!int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int r) || r < 1)
                throw new UsageException($"--stages item '{item}': layer '{parts[0]}' is not a positive whole number; {Expected}");
            PruningStage stage;
            if (parts[1].Contains('.'))
            {
                if (!double.TryParse(parts[1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double ratio) || ratio > 1)
                    throw new UsageException($"--stages item '{item}': fraction '{parts[1]}' is not a number in [0, 1]; {Expected}");
                stage = new PruningStage { AfterLayer = r, Ratio = ratio, RatioOf = RatioBase.Current };
            }
            else
            {
                if (!int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int keep))
                    throw new UsageException($"--stages item '{item}': keep '{parts[1]}' is not a non-negative whole number; {Expected}");
                stage = new PruningStage { AfterLayer = r, Keep = keep };
            }
            if (stages.Count > 0 && r <= stages[^1].AfterLayer)
                throw new UsageException($"--stages item '{item}': layer {r} does not come after layer {stages[^1].AfterLayer}; {Expected}");
            stages.Add(stage);
        }
        return stages;
    }

    static (int? Keep, double? Ratio) ParsePreLlm(string value)
    {
        if (value.Contains('.'))
        {
            if (double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double r) && r <= 1) return (null, r);
        }
        else if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int k)) return (k, null);
        throw new UsageException($"--pre-llm '{value}' is neither a token count nor a fraction in [0, 1]");
    }

    static string Describe(SchedulePreset s)
    {
        var parts = new List<string>();
        if (s.PreLlmKeep is int k) parts.Add($"pre-LLM keep {k}");
        if (s.PreLlmRatio is double r) parts.Add($"pre-LLM keep {r.ToString(CultureInfo.InvariantCulture)}");
        parts.AddRange(s.Stages.Select(st => st.Keep is int keep ? $"{st.AfterLayer}:{keep}" : $"{st.AfterLayer}:{st.Ratio?.ToString(CultureInfo.InvariantCulture)}"));
        return parts.Count == 0 ? "none" : string.Join(", ", parts);
    }

    static void WriteTable(TextWriter w, Estimate run)
    {
        var (model, schedule, baseline, pruned) = (run.Model, run.Schedule, run.Baseline, run.Pruned);
        var d = model.Text;
        w.WriteLine($"model      {run.Name}: {model.Description} [{model.Family}]");
        w.WriteLine($"decoder    L {d.NumLayers}, d {d.HiddenSize}, m {d.IntermediateSize}, heads {d.NumHeads}, kv heads {d.NumKvHeads}, head_dim {d.HeadDim}, vocab {d.VocabSize}");
        string from = run.Image is { } size ? $" (a {size.Width}x{size.Height} image)" : "";
        w.WriteLine($"prompt     {run.Visual} visual{from} + {run.Text} text tokens; KV cache {run.DType}");
        if (schedule != null) w.WriteLine($"schedule   {schedule.Name}: {Describe(schedule)}");
        w.WriteLine();
        w.WriteLine("visual tokens per layer");
        w.WriteLine($"  unpruned {LayerRuns.Format(baseline.Tokens.VisualPerLayer)}");
        if (pruned != null) w.WriteLine($"  pruned   {LayerRuns.Format(pruned.Tokens.VisualPerLayer)}");
        w.WriteLine();
        var cmp = pruned?.CompareTo(baseline);
        const string Row = "{0,-34}{1,14}{2,14}{3,12}";
        w.WriteLine(string.Format(CultureInfo.InvariantCulture, Row, "", "unpruned", pruned != null ? "pruned" : "", pruned != null ? "ratio" : ""));
        void Line(string label, string b, string? p, string? ratio) =>
            w.WriteLine(string.Format(CultureInfo.InvariantCulture, Row, label, b, p ?? "", ratio ?? ""));
        Line("average visual tokens", F1(baseline.AverageVisualTokens), pruned == null ? null : F1(pruned.AverageVisualTokens),
            cmp == null ? null : (100 * cmp.VisualTokenRetention).ToString("0.0", CultureInfo.InvariantCulture) + " %");
        Line("FLOPs, paper (visual tokens only)", Flops(baseline.PaperFlops), pruned == null ? null : Flops(pruned.PaperFlops), Times(cmp?.PaperFlopsReduction));
        Line("FLOPs, exact (all tokens)", Flops(baseline.ExactFlops), pruned == null ? null : Flops(pruned.ExactFlops), Times(cmp?.ExactFlopsReduction));
        if (pruned != null)
        {
            Line("probe FLOPs, full (fwd+bwd)", "", Flops(pruned.ProbeFlopsFull), null);
            Line("probe FLOPs, cheap (fwd+bwd)", "", Flops(pruned.ProbeFlopsCheap), null);
            Line("FLOPs, exact + cheap probe", Flops(baseline.ExactFlops), Flops(pruned.ExactFlops + pruned.ProbeFlopsCheap), Times(cmp?.ExactFlopsWithProbeReduction));
        }
        Line("KV cache", MiB(baseline.KvBytes), pruned == null ? null : MiB(pruned.KvBytes), Times(cmp?.KvReduction));
        w.WriteLine();
        w.WriteLine("paper FLOPs count multiply-adds as 1 (f(n) = 4nd² + 2n²d + 2ndm on visual tokens); exact FLOPs count 2 per");
        w.WriteLine("multiply-add over every token with GQA, SwiGLU, full-rectangle attention and lm_head on the last position.");
    }

    static string F1(double v) => v.ToString("0.0", CultureInfo.InvariantCulture);
    static string Times(double? v) => v is double x ? x.ToString("0.00", CultureInfo.InvariantCulture) + "×" : "";
    static string MiB(long bytes) => (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";

    static string Flops(long flops) => flops switch
    {
        >= 1_000_000_000_000 => (flops / 1e12).ToString("0.000", CultureInfo.InvariantCulture) + " T",
        >= 1_000_000_000 => (flops / 1e9).ToString("0.000", CultureInfo.InvariantCulture) + " G",
        _ => (flops / 1e6).ToString("0.000", CultureInfo.InvariantCulture) + " M",
    };

    static JsonObject ToJson(Estimate run)
    {
        var (model, schedule, baseline, pruned) = (run.Model, run.Schedule, run.Baseline, run.Pruned);
        var d = model.Text;
        var cmp = pruned?.CompareTo(baseline);
        return new JsonObject
        {
            ["model"] = new JsonObject
            {
                ["name"] = run.Name,
                ["family"] = model.Family,
                ["layers"] = d.NumLayers,
                ["hidden_size"] = d.HiddenSize,
                ["intermediate_size"] = d.IntermediateSize,
                ["heads"] = d.NumHeads,
                ["kv_heads"] = d.NumKvHeads,
                ["head_dim"] = d.HeadDim,
                ["vocab_size"] = d.VocabSize,
            },
            ["image"] = run.Image is { } size ? new JsonObject { ["width"] = size.Width, ["height"] = size.Height } : null,
            ["visual_tokens"] = run.Visual,
            ["text_tokens"] = run.Text,
            ["kv_dtype"] = run.DType.ToString(),
            ["schedule"] = schedule == null ? null : new JsonObject
            {
                ["name"] = schedule.Name,
                ["pre_llm_keep"] = schedule.PreLlmKeep,
                ["pre_llm_ratio"] = schedule.PreLlmRatio,
                ["stages"] = new JsonArray(schedule.Stages.Select(s => (JsonNode)new JsonObject
                {
                    ["after_layer"] = s.AfterLayer,
                    ["keep"] = s.Keep,
                    ["ratio"] = s.Ratio,
                }).ToArray()),
            },
            ["unpruned"] = baseline.ToJson(),
            ["pruned"] = pruned?.ToJson(),
            ["ratios"] = cmp == null ? null : new JsonObject
            {
                ["visual_token_retention"] = cmp.VisualTokenRetention,
                ["paper_flops_reduction"] = cmp.PaperFlopsReduction,
                ["exact_flops_reduction"] = cmp.ExactFlopsReduction,
                ["exact_flops_with_probe_reduction"] = cmp.ExactFlopsWithProbeReduction,
                ["kv_reduction"] = cmp.KvReduction,
            },
        };
    }
}
