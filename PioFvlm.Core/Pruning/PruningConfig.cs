using System.Text.Json;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Models;
using PioFvlm.Core.Pruning.Efficiency;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Core.Pruning.Selectors;

namespace PioFvlm.Core.Pruning;

/// <summary>
/// A pruning plan from JSON (the <c>--pruning FILE</c> of <c>generate</c>). Stages are keyed by name and each may name
/// its own method (<see cref="PruningRegistry"/>); a stage without <c>AfterLayer</c> acts before the LLM. Unknown
/// keys and bad values fail with the file and key path. Examples:
/// <code>{ "Method": "PioFvlm", "Schedule": "pio-11" }
/// { "Stages": { "ve": { "Method": "VScan", "Keep": 96 }, "s1": { "Method": "PioFvlm", "AfterLayer": 16, "Keep": 32 } } }
/// { "Method": "PioFvlm", "Stages": { "s1": { "AfterLayer": 2, "Keep": 200 }, "s2": { "AfterLayer": 8, "Ratio": 0.5 } },
///   "Nms": true, "NmsThreshold": 0.8, "Probe": "Cheap", "Window": "Reference", "Positions": "Compact" }</code>
/// PIO's probe options beyond those: <c>ProbeOffset</c> (probe layer = layers run + offset; 0 the next layer, the LLaVA
/// reference; −1 the layer just run, the Qwen reference) and <c>WindowSize</c> (supervised positions, 4 in the reference);
/// defaults are the model family's.
/// <c>Positions</c> defaults to the method's own policy (<see cref="PruningRegistry.DefaultPositions"/>), or to the
/// profile's when the family has multi-row positions (Qwen2.5-VL: KeepOriginal). The top-level <c>Method</c> (default PioFvlm) applies to stages that name none; <c>PreLlmKeep</c> with a preset
/// overrides its pre-LLM budget (VScan, or the top-level Method when that is a pre-LLM one, e.g.
/// <c>{ "Method": "DivPrune", "PreLlmKeep": 64 }</c>). <c>"Scope": "BaseViewOnly"</c> restricts pruning to the base
/// view of a LLaVA-NeXT image, as the reference does (<see cref="AnyresPruningScope"/>); read for a family without a
/// base view it is refused.
/// </summary>
public static class PruningConfig
{
    const string DefaultPreLlmMethod = "VScan";
    static readonly string[] Keys =
        ["Method", "Schedule", "PreLlmKeep", "Stages", "Nms", "NmsThreshold", "Probe", "ProbeOffset", "Window", "WindowSize", "Fp32Gradient", "Positions", "Seed", "Scope"];
    static readonly string[] StageKeys = ["Method", "AfterLayer", "Keep", "Ratio", "RatioOf"];

    sealed record StageSpec(string Name, string Method, PruningStage? Intra, TokenBudget? PreLlmKeep);

    /// <inheritdoc cref="Parse"/>
    public static PruningPlan Load(string path, ModelProfile? profile = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"pruning config not found: {path}", path);
        return Parse(File.ReadAllText(path), path, profile);
    }

    /// <param name="json">The config text.</param>
    /// <param name="source">Its file name or key path, for messages.</param>
    /// <param name="profile">The model family the plan is for: <c>"Schedule"</c> names one of its presets, and its
    /// saliency settings are the defaults of PIO's probe. Without it a <c>"Schedule"</c> is refused.</param>
    public static PruningPlan Parse(string json, string source, ModelProfile? profile = null)
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
            CheckMethod(method, source, "Method");
            var saliency = profile?.Saliency ?? new GradientSaliencyOptions();

            var settings = new IntraMethodSettings
            {
                Saliency = saliency with
                {
                    Probe = Enum<ProbeImplementation>(root, "Probe", source) ?? saliency.Probe,
                    ProbeLayerOffset = Int(root, "ProbeOffset", source) ?? saliency.ProbeLayerOffset,
                    Window = Enum<SupervisionWindow>(root, "Window", source) ?? saliency.Window,
                    WindowSize = Int(root, "WindowSize", source) is int size
                        ? size >= 1 ? size : throw new FormatException($"{source}: WindowSize must be at least 1, got {size}")
                        : saliency.WindowSize,
                    Fp32Gradient = Bool(root, "Fp32Gradient", source) ?? saliency.Fp32Gradient,
                },
                Nms = Bool(root, "Nms", source) ?? true,
                NmsThreshold = Number(root, "NmsThreshold", source) ?? FeatureNms.DefaultThreshold,
                Seed = Int(root, "Seed", source) ?? 0,
            };
            var (specs, name) = Stages(root, method, source, profile);
            // Default positions follow the method: the top-level one, else the first intra-LLM stage's (FastV keeps originals).
            string positionsOf = root.TryGetProperty("Method", out _) ? method
                : specs.FirstOrDefault(sp => sp.Intra is not null)?.Method ?? method;
            // A family with multi-row (M-RoPE) positions has only one meaning for them after pruning: its own default
            // (KeepOriginal), whatever the method re-indexes to on LLaVA.
            var positions = Enum<PositionPolicy>(root, "Positions", source)
                ?? (profile is { PositionRows: > 1 } ? profile.DefaultPositions : PruningRegistry.DefaultPositions(positionsOf));
            var scope = Enum<AnyresPruningScope>(root, "Scope", source);
            if (profile is not null)
            {
                try { AnyresPruningScopes.CheckSupported(scope, profile); }
                catch (NotSupportedException e) { throw new FormatException($"{source}: {e.Message}", e); }
            }
            return Build(specs, name, method, settings, positions, source) with { Scope = scope };
        }
    }

    static PruningPlan Build(List<StageSpec> specs, string name, string method, IntraMethodSettings settings, PositionPolicy positions, string source)
    {
        var pre = specs.Where(s => s.Intra is null).ToList();
        if (pre.Count > 1)
            throw new FormatException($"{source}: stages {string.Join(", ", pre.Select(s => s.Name))} all act before the LLM (no AfterLayer); give one");
        IPreLlmReducer? preLlm = null;
        if (pre.Count == 1)
        {
            var p = pre[0];
            try { preLlm = PruningRegistry.CreatePreLlm(p.Method, p.PreLlmKeep!); }
            catch (ArgumentException e) { throw new FormatException($"{source}: Stages:{p.Name}: {e.Message}", e); }
        }
        var intra = specs.Where(s => s.Intra is not null).OrderBy(s => s.Intra!.AfterLayer).ToList();
        var schedule = new PruningSchedule { Name = name, Stages = intra.Select(s => s.Intra!).ToList(), PreLlmKeep = pre.FirstOrDefault()?.PreLlmKeep };
        try { schedule.ValidateShape(); }
        catch (ArgumentException e) { throw new FormatException($"{source}: {e.Message}", e); }
        var active = intra.Where(s => s.Method != "KeepAll").ToList();
        if (active.Count == 0) return new PruningPlan(name, preLlm, null, positions);
        var keptAll = intra.Where(s => s.Method == "KeepAll").Select(s => s.Intra!).ToHashSet();
        if (keptAll.Count > 0)
            schedule = schedule with { Stages = schedule.Stages.Where(s => !keptAll.Contains(s)).ToList() };

        if (active.Any(s => PruningRegistry.IsWholePruner(s.Method)))
        {
            var methods = active.Select(s => s.Method).Distinct().ToArray();
            if (methods.Length > 1)
                throw new FormatException($"{source}: the intra-LLM stages name {string.Join(", ", methods)}; a whole-pruner method " +
                                          $"({string.Join(", ", methods.Where(PruningRegistry.IsWholePruner))}) runs every intra-LLM stage itself");
            var own = schedule with { Stages = active.Select(s => s.Intra!).ToList() };
            try { return new PruningPlan(name, preLlm, PruningRegistry.CreatePruner(methods[0], own), positions); }
            catch (ArgumentException e) { throw new FormatException($"{source}: {e.Message}", e); }
        }
        string defaultMethod = PruningRegistry.Get(method).Kind == PruningMethodKind.IntraLlm && method != "KeepAll" ? method : active[0].Method;
        var (scorer, selector) = Create(defaultMethod, settings, source);
        var overrides = new Dictionary<int, (ISaliencyScorer, ITokenSelector)>();
        foreach (var s in active.Where(s => s.Method != defaultMethod))
            overrides[s.Intra!.AfterLayer] = Create(s.Method, settings, source);
        return new PruningPlan(name, preLlm, new ScoreThenSelectPruner(scorer, selector, schedule, overrides), positions);
    }

    static (ISaliencyScorer, ITokenSelector) Create(string method, IntraMethodSettings settings, string source)
    {
        try { return PruningRegistry.CreateIntra(method, settings); }
        catch (ArgumentException e) { throw new FormatException($"{source}: {e.Message}", e); }
    }

    static void CheckMethod(string method, string source, string path)
    {
        try { PruningRegistry.Get(method); }
        catch (KeyNotFoundException e) { throw new FormatException($"{source}: {path}: {e.Message}", e); }
    }

    static (List<StageSpec> Specs, string Name) Stages(JsonElement root, string method, string source, ModelProfile? profile)
    {
        bool hasPreset = root.TryGetProperty("Schedule", out _);
        bool hasStages = root.TryGetProperty("Stages", out var stages);
        if (hasPreset && hasStages) throw new FormatException($"{source}: give either Schedule (a preset name) or Stages, not both");
        var specs = new List<StageSpec>();
        // A top-level pre-LLM Method (e.g. DivPrune) is the method of PreLlmKeep; otherwise VScan is.
        string preMethod = PruningRegistry.Get(method).Kind == PruningMethodKind.PreLlm ? method : DefaultPreLlmMethod;
        if (hasPreset)
        {
            string name = String(root, "Schedule", source)!;
            PruningSchedule preset;
            if (profile is null)
                throw new FormatException($"{source}: Schedule '{name}' names a preset of a model family, and this config is read " +
                                          "without a model; give Stages instead, or read it for a model");
            try { preset = profile.Preset(name).ToSchedule(); }
            catch (KeyNotFoundException e)
            {
                throw new FormatException($"{source}: Schedule: {e.Message}", e);
            }
            TokenBudget? preLlm = Int(root, "PreLlmKeep", source) is int top ? Budget(top, "PreLlmKeep", source) : preset.PreLlmKeep;
            if (preLlm is not null) specs.Add(new StageSpec("pre-llm", preMethod, null, preLlm));
            specs.AddRange(preset.Stages.Select((s, i) => new StageSpec($"s{i + 1}", method, s, null)));
            return (specs, $"{method}/{preset.Name}");
        }
        if (Int(root, "PreLlmKeep", source) is int keepAll) specs.Add(new StageSpec("pre-llm", preMethod, null, Budget(keepAll, "PreLlmKeep", source)));
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
                string stageMethod = String(stage.Value, "Method", source, path) ?? method;
                CheckMethod(stageMethod, source, $"{path}:Method");
                int? after = Int(stage.Value, "AfterLayer", source, path);
                int? keep = Int(stage.Value, "Keep", source, path);
                double? ratio = Number(stage.Value, "Ratio", source, path);
                if (after is null)
                {
                    if (PruningRegistry.Get(stageMethod).Kind != PruningMethodKind.PreLlm)
                        throw new FormatException($"{source}: {path}:AfterLayer is required for the intra-LLM method '{stageMethod}' " +
                                                  "(a stage before the LLM names a pre-LLM Method, e.g. VScan)");
                    if (keep.HasValue == ratio.HasValue)
                        throw new FormatException($"{source}: {path} acts before the LLM (no AfterLayer) and needs one of Keep (a count) " +
                                                  "and Ratio (a fraction of each image's tokens)");
                    specs.Add(new StageSpec(stage.Name, stageMethod, null, keep is int k ? Budget(k, $"{path}:Keep", source)
                        : ratio is >= 0 and <= 1 ? TokenBudget.Ratio(ratio.Value)
                        : throw new FormatException($"{source}: {path}:Ratio = {ratio} is outside [0, 1]")));
                    continue;
                }
                if (PruningRegistry.Get(stageMethod).Kind == PruningMethodKind.PreLlm)
                    throw new FormatException($"{source}: {path}: '{stageMethod}' acts before the LLM; remove AfterLayer");
                specs.Add(new StageSpec(stage.Name, stageMethod, new PruningStage
                {
                    AfterLayer = after.Value, Keep = keep, Ratio = ratio,
                    RatioOf = Enum<RatioBase>(stage.Value, "RatioOf", source, path) ?? RatioBase.Current,
                }, null));
            }
        }
        string label = string.Join(",", specs.Select(s => s.Intra is null ? $"{s.Method}:{s.PreLlmKeep}"
            : $"{s.Intra.AfterLayer}:{(s.Intra.Keep?.ToString() ?? s.Intra.Ratio?.ToString(System.Globalization.CultureInfo.InvariantCulture))}"));
        return (specs, $"{method}/{(label.Length == 0 ? "none" : label)}");
    }

    static TokenBudget Budget(int keep, string path, string source) =>
        keep >= 0 ? TokenBudget.Keep(keep) : throw new FormatException($"{source}: {path} = {keep} is negative");

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
