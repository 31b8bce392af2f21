using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Vision;

namespace PioFvlm.Bench.Overlays;

/// <summary>
/// <c>generate --show-kept FILE.png</c>: the kept visual tokens of one generation over its input image, one panel per
/// pruning step (the pre-LLM reduction, then each intra-LLM stage, each mapped back to original token indices by
/// <see cref="KeptVisualTokens"/>), or one panel with every token when nothing was pruned.
/// </summary>
public static class KeptTokenPicture
{
    /// <summary>Fails fast, before the model loads, when the picture's folder does not exist or the name is a folder.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder is missing.</exception>
    /// <exception cref="IOException">The path is an existing folder.</exception>
    public static void CheckWritable(string path)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new IOException($"--show-kept {path}: is a folder, not a file name");
        string? folder = Path.GetDirectoryName(full);
        if (folder != null && !Directory.Exists(folder))
            throw new DirectoryNotFoundException($"--show-kept {path}: folder {folder} does not exist");
    }

    /// <summary>The panels of one generation: one per pruning step, or one "unpruned" panel.</summary>
    public static IReadOnlyList<OverlayPanel> Panels(GenerationResult result, int visualTokens)
    {
        var stats = result.Stats;
        if (stats.VisualTokensBeforeReduction != visualTokens)
            throw new InvalidOperationException($"the model produced {stats.VisualTokensBeforeReduction} visual tokens, the token layout has {visualTokens}");
        string answer = "answer: " + result.Text.Trim();
        var steps = KeptVisualTokens.Trace(visualTokens, stats.PreLlm, stats.Stages);
        if (steps.Count == 0)
            return [new OverlayPanel($"unpruned: all {visualTokens} kept", answer, PruningStageReport.AllOf(visualTokens))];
        return steps.Select(s => new OverlayPanel($"{s.Label}: {s.Kept.Count} of {visualTokens} kept{Merged(s)}", answer, s.Kept.ToArray())).ToList();
    }

    /// <summary>" (+M merged)" when the step passes on merged tokens that stand for no single original token.</summary>
    public static string Merged(KeptVisualStep step) =>
        step.VisualCount > step.Kept.Count ? $" (+{step.VisualCount - step.Kept.Count} merged)" : "";

    /// <summary>Draws and writes the picture; the heading is the user's question.</summary>
    public static void Write(string path, RgbImage image, IReadOnlyList<ImageRect> tokens, string question, GenerationResult result) =>
        KeptTokenOverlay.Write(path, image, tokens, Panels(result, tokens.Count), heading: question);
}
