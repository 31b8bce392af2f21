using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using PioFvlm.Core.Models;
using PioFvlm.Core.Pruning;
using PioFvlm.Models;

namespace PioFvlm.Bench.Eval.Runner;

/// <summary>
/// Builds <see cref="RunOptions"/> from layered configuration, later layers winning:
/// <list type="number">
/// <item><c>base.json</c>: the first of <c>RUNDIR/../base.json</c> and <c>RUNDIR/base.json</c> (so <c>configs/base.json</c> for
/// <c>configs/runs/x.json</c>);</item>
/// <item>the run file;</item>
/// <item>environment variables <c>PIOFVLM_Run__Eval__Limit=3</c> (prefix stripped, <c>__</c> = <c>:</c>);</item>
/// <item>command-line overrides <c>--Run:Model:Path=DIR</c>, and the short forms <c>--limit N</c>, <c>--shard i/n</c>,
/// <c>--output DIR</c>.</item>
/// </list>
/// Everything lives under <c>Run</c>: <c>Model {Path, DType, Device, VisionTower}</c>, <c>Methods {NAME: pruning-config
/// object | path to one | "KeepAll" | "" (drops the method)}</c>, <c>Eval {Dataset, ImageFolder, MaxNewTokens, Limit,
/// Shard}</c>, <c>Output {Directory}</c>. The tree is walked against the records before anything is loaded: an unknown
/// key or a bad value fails with its full key path. Relative paths resolve against the folder above the one holding
/// <c>base.json</c> (the repository root for <c>configs/base.json</c>), or the current directory without a base file.
/// </summary>
public static class RunConfigLoader
{
    public const string EnvironmentPrefix = "PIOFVLM_";
    public const string ReferenceMethod = "KeepAll";

    /// <summary>Loads and validates. <paramref name="environment"/> replaces the process environment (tests).</summary>
    public static RunOptions Load(string runFile, IReadOnlyList<string> overrides, IDictionary? environment = null) =>
        Load(runFile, overrides, environment, extraSections: []);

    /// <summary>As <see cref="Load(string, IReadOnlyList{string}, IDictionary?)"/>, also accepting the top-level
    /// <paramref name="extraSections"/> (read by the caller, e.g. <c>Demo</c> for <c>pio-fvlm demo</c>).</summary>
    public static RunOptions Load(string runFile, IReadOnlyList<string> overrides, IDictionary? environment, IReadOnlyCollection<string> extraSections)
    {
        if (!File.Exists(runFile)) throw new RunConfigException($"run config not found: {runFile}");
        string runDir = Path.GetDirectoryName(Path.GetFullPath(runFile))!;
        string? baseFile = new[] { Path.Combine(runDir, "..", "base.json"), Path.Combine(runDir, "base.json") }
            .Select(Path.GetFullPath)
            .FirstOrDefault(f => File.Exists(f) && f != Path.GetFullPath(runFile));
        string root = baseFile is null ? Directory.GetCurrentDirectory() : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(baseFile)!, ".."));

        var builder = new ConfigurationBuilder();
        try
        {
            if (baseFile is not null) builder.AddJsonFile(baseFile, optional: false, reloadOnChange: false);
            builder.AddJsonFile(Path.GetFullPath(runFile), optional: false, reloadOnChange: false);
            if (environment is null) builder.AddEnvironmentVariables(EnvironmentPrefix);
            else builder.AddInMemoryCollection(FromEnvironment(environment));
            builder.AddCommandLine(ExpandShortForms(overrides).ToArray());
            return Bind(builder.Build(), root, extraSections);
        }
        catch (FormatException e)
        {
            throw new RunConfigException($"{runFile}: {e.Message}", e);
        }
        catch (InvalidDataException e)
        {
            throw new RunConfigException($"{runFile}: {e.Message}", e);
        }
    }

    static IEnumerable<KeyValuePair<string, string?>> FromEnvironment(IDictionary environment)
    {
        foreach (DictionaryEntry e in environment)
        {
            string key = e.Key.ToString() ?? "";
            if (!key.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase)) continue;
            yield return new(key[EnvironmentPrefix.Length..].Replace("__", ConfigurationPath.KeyDelimiter), e.Value?.ToString());
        }
    }

    /// <summary><c>--limit N</c> → <c>--Run:Eval:Limit=N</c> etc.; anything else must be a <c>--Section:Key=value</c> override.</summary>
    static IEnumerable<string> ExpandShortForms(IReadOnlyList<string> args)
    {
        var shortForms = new Dictionary<string, string> { ["--limit"] = "Run:Eval:Limit", ["--shard"] = "Run:Eval:Shard", ["--output"] = "Run:Output:Directory" };
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            string name = a.Split('=', 2)[0];
            if (shortForms.TryGetValue(name, out var key))
            {
                string? value = a.Contains('=') ? a.Split('=', 2)[1] : i + 1 < args.Count ? args[++i] : null;
                if (value is null) throw new UsageException($"{name} needs a value");
                yield return $"--{key}={value}";
            }
            else if (a.StartsWith("--", StringComparison.Ordinal) && a.Contains(':'))
            {
                yield return a;
                if (!a.Contains('=') && i + 1 < args.Count) yield return args[++i];
            }
            else throw new UsageException($"unexpected argument '{a}'; overrides look like --Run:Eval:Limit=10 (or --limit N, --shard i/n, --output DIR)");
        }
    }

    static RunOptions Bind(IConfiguration config, string root, IReadOnlyCollection<string> extraSections)
    {
        foreach (var top in config.GetChildren())
            if (top.Key != "Run" && !extraSections.Contains(top.Key)) throw new RunConfigException($"{top.Path}: unknown key (everything lives under Run)");
        var run = config.GetSection("Run");
        string[] sections = ["Model", "Methods", "Eval", "Output"];
        foreach (var s in run.GetChildren())
            if (!sections.Contains(s.Key, StringComparer.OrdinalIgnoreCase))
                throw new RunConfigException($"{s.Path}: unknown key (known: {string.Join(", ", sections)})");

        var model = BindRecord<ModelOptions>(run.GetSection("Model"));
        var eval = BindRecord<EvalOptions>(run.GetSection("Eval"));
        var output = BindRecord<OutputOptions>(run.GetSection("Output"));
        Require(model.Path, "Run:Model:Path");
        Require(eval.Dataset, "Run:Eval:Dataset");
        Require(output.Directory, "Run:Output:Directory");
        if (eval.MaxNewTokens < 1) throw new RunConfigException($"Run:Eval:MaxNewTokens: must be at least 1, got {eval.MaxNewTokens}");
        if (eval.Limit is < 1) throw new RunConfigException($"Run:Eval:Limit: must be at least 1, got {eval.Limit}");
        ParseShard(eval.Shard, "Run:Eval:Shard");
        if (eval.Benchmark is string benchmark && !Scoring.ScorerRegistry.Names.Contains(benchmark))
            throw new RunConfigException($"Run:Eval:Benchmark: '{benchmark}' is not one of {string.Join(", ", Scoring.ScorerRegistry.Names)}");
        if (eval.Benchmark is not null && string.IsNullOrEmpty(eval.Annotations))
            throw new RunConfigException($"Run:Eval:Annotations: required when Run:Eval:Benchmark is set (the {eval.Benchmark} ground truth)");

        model = model with { Path = Resolve(root, model.Path), VisionTower = model.VisionTower is null ? null : Resolve(root, model.VisionTower) };
        eval = eval with
        {
            Dataset = Resolve(root, eval.Dataset),
            ImageFolder = eval.ImageFolder is null ? null : Resolve(root, eval.ImageFolder),
            Annotations = eval.Annotations is null ? null : Resolve(root, eval.Annotations),
        };
        output = output with { Directory = Resolve(root, output.Directory) };
        return new RunOptions { Model = model, Methods = Methods(run.GetSection("Methods"), root, ProfileOf(model)), Eval = eval, Output = output };
    }

    static void Require(string value, string path)
    {
        if (string.IsNullOrWhiteSpace(value)) throw new RunConfigException($"{path}: required but not given");
    }

    static string Resolve(string root, string path) => Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(root, path));

    /// <summary><c>i/n</c> with 0 ≤ i &lt; n; null = (0, 1).</summary>
    public static (int Index, int Count) ParseShard(string? shard, string path)
    {
        if (string.IsNullOrEmpty(shard)) return (0, 1);
        var parts = shard.Split('/');
        if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int i)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1 && i < n)
            return (i, n);
        throw new RunConfigException($"{path}: '{shard}' is not a shard; give i/n with 0 <= i < n, e.g. 0/4");
    }

    /// <summary>Walks a section against <typeparamref name="T"/>'s init properties: unknown keys and bad values fail with their path.</summary>
    static T BindRecord<T>(IConfigurationSection section) where T : new()
    {
        object record = new T();
        var properties = typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance);
        foreach (var child in section.GetChildren())
        {
            var p = properties.FirstOrDefault(p => string.Equals(p.Name, child.Key, StringComparison.OrdinalIgnoreCase))
                ?? throw new RunConfigException($"{child.Path}: unknown key (known: {string.Join(", ", properties.Select(p => p.Name))})");
            if (child.Value is null)
                throw new RunConfigException($"{child.Path}: expected a single value, got an object");
            p.SetValue(record, Convert(child.Value, p.PropertyType, child.Path));
        }
        return (T)record;
    }

    static object? Convert(string value, Type type, string path)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (target == typeof(string)) return value;
        if (value.Length == 0 && target != type) return null;
        if (target == typeof(int))
            return int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n) ? n
                : throw new RunConfigException($"{path}: '{value}' is not an integer");
        if (target == typeof(bool))
            return bool.TryParse(value, out bool b) ? b : throw new RunConfigException($"{path}: '{value}' is not true or false");
        if (target == typeof(TorchSharp.torch.ScalarType))
            return Commands.DTypeNames.TryParse(value, out var dtype) ? dtype
                : throw new RunConfigException($"{path}: '{value}' is not one of {Commands.DTypeNames.Names}");
        if (target.IsEnum)
            return Enum.TryParse(target, value, ignoreCase: true, out var e) && Enum.IsDefined(target, e!) && !int.TryParse(value, out _) ? e
                : throw new RunConfigException($"{path}: '{value}' is not one of {string.Join(", ", Enum.GetNames(target))}");
        throw new InvalidOperationException($"{path}: no converter for {target.Name}");
    }

    /// <summary>
    /// The model's family profile from its config.json (no weights), so plans get the family's presets and saliency
    /// defaults before the model loads; null when the folder has no config.json yet (the run then fails at loading,
    /// and a "Schedule" preset is refused here).
    /// </summary>
    static ModelProfile? ProfileOf(ModelOptions model)
    {
        if (!File.Exists(Path.Combine(model.Path, "config.json")) && !File.Exists(model.Path)) return null;
        try { return VlmLoader.ProfileOf(model.Path, model.VisionTower); }
        catch (Exception e) when (e is Models.Configs.ConfigFormatException or Models.Configs.UnsupportedModelException or
                                      NotSupportedException or ArgumentException or IOException)
        {
            throw new RunConfigException($"Run:Model:Path: {e.Message}", e);
        }
    }

    /// <summary>Methods in config order after the reference; an empty value drops a method from the run.</summary>
    static IReadOnlyList<MethodSpec> Methods(IConfigurationSection section, string root, ModelProfile? profile)
    {
        var specs = new List<MethodSpec> { new(ReferenceMethod, ReferenceMethod, PruningPlan.None) };
        foreach (var m in section.GetChildren())
        {
            string path = m.Path;
            if (m.Key == ReferenceMethod) continue;
            if (m.Value is "") continue;
            if (!m.Key.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                throw new RunConfigException($"{path}: a method name names its answers folder; use letters, digits, '-', '_' or '.'");
            string json;
            if (m.Value is string value)
            {
                if (value == ReferenceMethod) throw new RunConfigException($"{path}: KeepAll is always run as '{ReferenceMethod}'; remove this entry");
                string file = Resolve(root, value);
                if (!File.Exists(file)) throw new RunConfigException($"{path}: pruning config file not found: {file}");
                json = JsonNode.Parse(File.ReadAllText(file))!.ToJsonString();
            }
            else json = ToJson(m).ToJsonString();
            if (OracleMethod.IsOracle(JsonNode.Parse(json)!))
            {
                specs.Add(OracleMethod.Spec(m.Key, json, path, profile));
                continue;
            }
            PruningPlan plan;
            try { plan = PruningConfig.Parse(json, path, profile); }
            catch (FormatException e)
            {
                throw new RunConfigException(profile is null ? $"{e.Message} (Run:Model:Path has no config.json, so the model family is unknown)" : e.Message, e);
            }
            specs.Add(new MethodSpec(m.Key, json, plan));
        }
        return specs;
    }

    /// <summary>A configuration subtree back to JSON: numbers and booleans typed again (the tree keeps strings only).</summary>
    static JsonObject ToJson(IConfigurationSection section)
    {
        var o = new JsonObject();
        foreach (var c in section.GetChildren())
        {
            o[c.Key] = c.Value is null ? ToJson(c)
                : long.TryParse(c.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) ? JsonValue.Create(l)
                : double.TryParse(c.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? JsonValue.Create(d)
                : bool.TryParse(c.Value, out bool b) ? JsonValue.Create(b)
                : JsonValue.Create(c.Value);
        }
        return o;
    }
}
