using System.Text.Json;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning.Efficiency;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Core.Pruning.Selectors;

namespace PioFvlm.Core.Pruning;

/// <summary>
/// A pruning plan from JSON (the <c>--pruning FILE</c> of <c>generate</c>). Unknown keys and bad values fail with the
/// file and key path. Example:
/// <code>{ "Method": "PioFvlm", "Schedule": "pio-11" }
/// { "Method": "PioFvlm", "PreLlmKeep": 96, "Stages": { "s1": { "AfterLayer": 16, "Keep": 32 } },
///   "Nms": true, "NmsThreshold": 0.8, "Probe": "Cheap", "Window": "Reference", "Positions": "Compact" }</code>
/// Methods: PioFvlm (gradient saliency), FeatureNorm and Random (same selector and schedule, other scores: controls),
/// KeepAll (nothing pruned).
/// </summary>
public static class PruningConfig
{
    static readonly string[] Keys =
        ["Method", "Schedule", "PreLlmKeep", "Stages", "Nms", "NmsThreshold", "Probe", "Window", "Fp32Gradient", "Positions", "Seed"];
    static readonly string[] StageKeys = ["AfterLayer", "Keep", "Ratio", "RatioOf"];

    public static PruningPlan Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"pruning config not found: {path}", path);
        return Parse(File.ReadAllText(path), path);
    }

    public static PruningPlan Parse(string json, string source)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new FormatException($"{source}: not valid JSON: {e.Message}", e); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FormatException($"{source}: the top level must be a JSON object");
            foreach (var p in root.EnumerateObject())
                if (!Keys.Contains(p.Name))
                    throw new FormatException($"{source}: unknown key '{p.Name}' (known: {string.Join(", ", Keys)})");
            string method = String(root, "Method", source) ?? "PioFvlm";
            if (method == "KeepAll") return PruningPlan.None with { Name = "KeepAll" };
            var schedule = Schedule(root, source);
            var positions = Enum<PositionPolicy>(root, "Positions", source) ?? PositionPolicy.Compact;
            if (method == "PioFvlm")
            {
                var saliency = GradientSaliencyOptions.Llava with
                {
                    Probe = Enum<ProbeImplementation>(root, "Probe", source) ?? ProbeImplementation.Cheap,
                    Window = Enum<SupervisionWindow>(root, "Window", source) ?? SupervisionWindow.Reference,
                    Fp32Gradient = Bool(root, "Fp32Gradient", source) ?? false,
                };
                return PioFvlmMethod.Create(new PioFvlmOptions
                {
                    Schedule = schedule, Saliency = saliency, Positions = positions,
                    Nms = Bool(root, "Nms", source) ?? true,
                    NmsThreshold = Number(root, "NmsThreshold", source) ?? FeatureNms.DefaultThreshold,
                });
            }
            ISaliencyScorer scorer = method switch
            {
                "FeatureNorm" => new FeatureNormScorer(),
                "Random" => new RandomScorer((long)(Number(root, "Seed", source) ?? 0)),
                _ => throw new FormatException($"{source}: Method '{method}' is not one of PioFvlm, FeatureNorm, Random, KeepAll"),
            };
            ITokenSelector selector = Bool(root, "Nms", source) ?? true
                ? new FeatureNms(Number(root, "NmsThreshold", source) ?? FeatureNms.DefaultThreshold) : new TopKSelector();
            schedule.ValidateShape();
            var intra = schedule.Stages.Count == 0 ? null : new ScoreThenSelectPruner(scorer, selector, schedule);
            var preLlm = schedule.PreLlmKeep is int k ? new PreLlm.VScanEncoderStage(k) : null;
            return new PruningPlan($"{method}/{schedule.Name}", preLlm, intra, positions);
        }
    }

    static PruningSchedule Schedule(JsonElement root, string source)
    {
        bool hasPreset = root.TryGetProperty("Schedule", out _);
        bool hasStages = root.TryGetProperty("Stages", out var stages);
        if (hasPreset && hasStages) throw new FormatException($"{source}: give either Schedule (a preset name) or Stages, not both");
        if (hasPreset)
        {
            string name = String(root, "Schedule", source)!;
            try
            {
                var preset = SchedulePresets.Get(name).ToSchedule();
                int? preLlm = Int(root, "PreLlmKeep", source);
                return preLlm is null ? preset : preset with { PreLlmKeep = preLlm };
            }
            catch (Exception e) when (e is KeyNotFoundException or NotSupportedException)
            {
                throw new FormatException($"{source}: Schedule: {e.Message}", e);
            }
        }
        var list = new List<PruningStage>();
        if (hasStages)
        {
            if (stages.ValueKind != JsonValueKind.Object)
                throw new FormatException($"{source}: Stages must be an object of named stages, e.g. {{ \"s1\": {{ \"AfterLayer\": 16, \"Keep\": 32 }} }}");
            foreach (var stage in stages.EnumerateObject())
            {
                string path = $"Stages:{stage.Name}";
                if (stage.Value.ValueKind != JsonValueKind.Object) throw new FormatException($"{source}: {path} must be an object");
                foreach (var p in stage.Value.EnumerateObject())
                    if (!StageKeys.Contains(p.Name))
                        throw new FormatException($"{source}: unknown key '{path}:{p.Name}' (known: {string.Join(", ", StageKeys)})");
                list.Add(new PruningStage
                {
                    AfterLayer = (Int(stage.Value, "AfterLayer", source, path) ?? throw new FormatException($"{source}: {path}:AfterLayer is required")),
                    Keep = Int(stage.Value, "Keep", source, path),
                    Ratio = Number(stage.Value, "Ratio", source, path),
                    RatioOf = Enum<RatioBase>(stage.Value, "RatioOf", source, path) ?? RatioBase.Current,
                });
            }
        }
        var ordered = list.OrderBy(s => s.AfterLayer).ToList();
        return new PruningSchedule
        {
            Name = ordered.Count == 0 ? "no-intra" : string.Join(",", ordered.Select(s => $"{s.AfterLayer}:{s.Keep?.ToString() ?? s.Ratio.ToString()}")),
            Stages = ordered,
            PreLlmKeep = Int(root, "PreLlmKeep", source),
        };
    }

    static string? String(JsonElement e, string key, string source, string prefix = "") =>
        !e.TryGetProperty(key, out var v) ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString()
        : throw new FormatException($"{source}: {Path(prefix, key)} must be a string, got {v.ValueKind}");

    static double? Number(JsonElement e, string key, string source, string prefix = "") =>
        !e.TryGetProperty(key, out var v) ? null
        : v.ValueKind == JsonValueKind.Number ? v.GetDouble()
        : throw new FormatException($"{source}: {Path(prefix, key)} must be a number, got {v.ValueKind}");

    static int? Int(JsonElement e, string key, string source, string prefix = "") =>
        !e.TryGetProperty(key, out var v) ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i
        : throw new FormatException($"{source}: {Path(prefix, key)} must be an integer, got {v}");

    static bool? Bool(JsonElement e, string key, string source) =>
        !e.TryGetProperty(key, out var v) ? null
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
        : throw new FormatException($"{source}: {key} must be true or false, got {v.ValueKind}");

    static T? Enum<T>(JsonElement e, string key, string source, string prefix = "") where T : struct, System.Enum
    {
        string? text = String(e, key, source, prefix);
        if (text is null) return null;
        return System.Enum.TryParse<T>(text, ignoreCase: true, out var value) && System.Enum.IsDefined(value) ? value
            : throw new FormatException($"{source}: {Path(prefix, key)} = '{text}' is not one of {string.Join(", ", System.Enum.GetNames<T>())}");
    }

    static string Path(string prefix, string key) => prefix.Length == 0 ? key : $"{prefix}:{key}";
}
