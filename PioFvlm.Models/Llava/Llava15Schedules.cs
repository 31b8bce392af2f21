using PioFvlm.Core.Pruning;

namespace PioFvlm.Models.Llava;

/// <summary>
/// PIO-FVLM schedules for LLaVA-1.5-7B (576 visual tokens, 32 layers), named by target retention of the per-layer
/// average (spec §5.2). <see cref="PruningSchedule.IsReference"/> marks the ones present in the reference code.
/// </summary>
public static class Llava15Schedules
{
    public const int VisualTokens = 576;
    public const int Layers = 32;

    static PruningStage Keep(int afterLayer, int keep) => new() { AfterLayer = afterLayer, Keep = keep };

    /// <summary>22.2 % (avg 128), w/o VE: [1,10,15] / [218,128,54]; all v1_5/eval/*.sh scripts.</summary>
    public static PruningSchedule WithoutVe22 { get; } = new()
    {
        Name = "llava15-wo-ve-22", IsReference = true,
        Stages = [Keep(1, 218), Keep(10, 128), Keep(15, 54)],
        Note = "reference: v=576, layer_list [1,10,15], image_token_list [218,128,54] (v1_5/eval scripts)",
    };

    /// <summary>11.1 % (avg 64), w/o VE: [1,10,15] / [92,54,22]; comment above layer_prune, textvqa_set scripts.</summary>
    public static PruningSchedule WithoutVe11 { get; } = new()
    {
        Name = "llava15-wo-ve-11", IsReference = true,
        Stages = [Keep(1, 92), Keep(10, 54), Keep(15, 22)],
        Note = "reference: v=576, layer_list [1,10,15], image_token_list [92,54,22] (textvqa_set scripts)",
    };

    /// <summary>33.3 % (avg 192), w/o VE: [1,10,15] / [344,202,86] (ours; 9·344 + 5·202 + 17·86 = 5568).</summary>
    public static PruningSchedule WithoutVe33 { get; } = new()
    {
        Name = "llava15-wo-ve-33", IsReference = false,
        Stages = [Keep(1, 344), Keep(10, 202), Keep(15, 86)],
        Note = "ours: absent from the reference; same layers, budgets chosen so the average is 192",
    };

    /// <summary>11.1 % (avg 64), w/ VE: pre-LLM 96, then 32 after layer 16 (README / VScan default).</summary>
    public static PruningSchedule WithVe11 { get; } = new()
    {
        Name = "llava15-w-ve-11", IsReference = true, PreLlmKeep = 96,
        Stages = [Keep(16, 32)],
        Note = "reference: visual_token_num 96, layer_list [16], image_token_list [32] (README default)",
    };

    /// <summary>22.2 % (avg 128), w/ VE: pre-LLM 192, then 64 after layer 16 (ours, by analogy).</summary>
    public static PruningSchedule WithVe22 { get; } = new()
    {
        Name = "llava15-w-ve-22", IsReference = false, PreLlmKeep = 192,
        Stages = [Keep(16, 64)],
        Note = "ours: the 11.1 % w/ VE schedule scaled by 2",
    };

    /// <summary>33.3 % (avg 192), w/ VE: pre-LLM 288, then 96 after layer 16 (ours, by analogy; spec §5.2 [inferred]).</summary>
    public static PruningSchedule WithVe33 { get; } = new()
    {
        Name = "llava15-w-ve-33", IsReference = false, PreLlmKeep = 288,
        Stages = [Keep(16, 96)],
        Note = "ours: the 11.1 % w/ VE schedule scaled by 3",
    };

    public static IReadOnlyList<PruningSchedule> All { get; } =
        [WithoutVe33, WithoutVe22, WithoutVe11, WithVe33, WithVe22, WithVe11];

    /// <summary>The preset called <paramref name="name"/>; throws listing the known names.</summary>
    public static PruningSchedule ByName(string name) =>
        All.FirstOrDefault(s => s.Name == name)
        ?? throw new ArgumentException($"unknown LLaVA-1.5 pruning schedule '{name}'; known: {string.Join(", ", All.Select(s => s.Name))}");
}
