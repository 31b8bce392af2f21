using System.Text.Json.Nodes;
using PioFvlm.Core.Models;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Selectors;

namespace PioFvlm.Bench.Eval.Runner;

/// <summary>
/// The <c>Oracle</c> control of a run config: <c>{ "Method": "Oracle", "Stages": { "s1": { "AfterLayer": 1, "Keep": 7 } } }</c>
/// (optional <c>Seed</c>, default 0). It keeps the question's relevant visual tokens first and fills the budget at random
/// (<see cref="OracleScorer"/>, plain top-k): the ceiling a selector could reach on this model at that budget. It is the
/// Random baseline's schedule, positions and seeded draw, so the two differ only in which tokens are kept; unlike
/// Random it takes no feature NMS, which could drop one of two similar relevant tokens. Exactly one intra-LLM stage
/// and no pre-LLM stage. Not a registered pruning method: no real method knows the relevant tokens, so the eval
/// runner builds its plan per question (<see cref="MethodSpec.GroundTruthPlan"/>) from the question file's ground
/// truth, and hands that ground truth to no other method.
/// </summary>
public static class OracleMethod
{
    public const string MethodName = "Oracle";

    /// <summary>Whether the config object names the Oracle as its top-level Method.</summary>
    public static bool IsOracle(JsonNode config) => config is JsonObject o && o["Method"] is JsonValue v && v.TryGetValue(out string? m) && m == MethodName;

    public static MethodSpec Spec(string name, string json, string path, ModelProfile? profile)
    {
        var config = JsonNode.Parse(json)!.AsObject();
        long seed = config["Seed"] is JsonValue s && s.TryGetValue(out long l) ? l : 0;
        // Parsed as Random without NMS: the same schedule and position rules, then the scorer swapped.
        config["Method"] = "Random";
        config["Nms"] = false;
        PruningPlan random;
        try { random = PruningConfig.Parse(config.ToJsonString(), path, profile); }
        catch (FormatException e) { throw new RunConfigException(e.Message.Replace("Random", MethodName, StringComparison.Ordinal), e); }
        if (random.PreLlm is not null || random.Intra is not ScoreThenSelectPruner { Schedule.Stages.Count: 1 } pruner)
            throw new RunConfigException($"{path}: the {MethodName} control takes exactly one intra-LLM stage (AfterLayer and Keep) and no pre-LLM stage");
        var schedule = pruner.Schedule;
        var positions = random.Positions;
        string planName = MethodName + random.Name["Random".Length..];
        PruningPlan Plan(IReadOnlyList<long>? relevant) =>
            new(planName, null, new ScoreThenSelectPruner(new OracleScorer(relevant, seed), new TopKSelector(), schedule), positions);
        return new MethodSpec(name, json, Plan(null)) { GroundTruthPlan = relevant => Plan(relevant) };
    }
}
