using System.Text.Json;
using System.Text.Json.Nodes;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Efficiency;
using PioFvlm.Models;

namespace PioFvlm.Bench.Commands;

/// <summary><c>pio-fvlm methods [--json]</c>: the registered pruning methods and each model family's schedule presets.</summary>
public static class MethodsCommand
{
    public static readonly CommandSyntax Syntax = new("methods", [CliOption.Flag("json", "print the list as JSON")]);

    public static int Run(string[] args)
    {
        var a = new ArgReader(args, Syntax);
        if (a.Flag("json"))
        {
            var root = new JsonObject
            {
                ["methods"] = new JsonArray(PruningRegistry.Methods.Select(m => (JsonNode)new JsonObject
                {
                    ["name"] = m.Name, ["kind"] = m.Kind.ToString(), ["description"] = m.Description, ["defaults"] = m.Defaults,
                }).ToArray()),
                ["schedules"] = new JsonObject(ModelProfiles.Families.Select(f => KeyValuePair.Create(f.Family,
                    (JsonNode?)new JsonArray(f.Presets.Select(p => (JsonNode)Json(p)).ToArray())))),
            };
            Console.WriteLine(root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        Console.WriteLine("methods");
        foreach (var m in PruningRegistry.Methods)
        {
            Console.WriteLine($"  {m.Name,-12} {(m.Kind == PruningMethodKind.PreLlm ? "pre-LLM" : "intra-LLM"),-10} {m.Description}");
            if (m.Defaults.Length > 0) Console.WriteLine($"  {"",-12} {"",-10} defaults: {m.Defaults}");
        }
        foreach (var family in ModelProfiles.Families)
        {
            Console.WriteLine();
            Console.WriteLine($"schedule presets of {family.Family} (generate --schedule NAME, estimate --schedule NAME, or \"Schedule\" in a pruning config)");
            foreach (var p in family.Presets)
            {
                string pre = p.PreLlm is { } budget ? $"pre-LLM {budget}, " : "";
                string stages = string.Join(", ", p.Stages.Select(s =>
                    $"{s.AfterLayer}:{s.Keep?.ToString() ?? $"x{s.Ratio:0.####}{(s.RatioOf == RatioBase.Original ? " of original" : "")}"}"));
                Console.WriteLine($"  {p.Name,-15} {pre}{stages}");
                Console.WriteLine($"  {"",-15} {p.Description}");
            }
        }
        return 0;
    }

    static JsonObject Json(SchedulePreset p) => new()
    {
        ["name"] = p.Name, ["description"] = p.Description, ["pre_llm_keep"] = p.PreLlmKeep, ["pre_llm_ratio"] = p.PreLlmRatio,
        ["stages"] = new JsonArray(p.Stages.Select(s => (JsonNode)new JsonObject
        {
            ["after_layer"] = s.AfterLayer, ["keep"] = s.Keep, ["ratio"] = s.Ratio, ["ratio_of"] = s.RatioOf.ToString(),
        }).ToArray()),
    };
}
