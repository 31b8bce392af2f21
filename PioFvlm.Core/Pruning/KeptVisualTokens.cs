namespace PioFvlm.Core.Pruning;

/// <summary>
/// Which of an image's original visual tokens are still present after one pruning step of a prefill.
/// </summary>
/// <param name="Label">"pre-LLM" or "after layer L".</param>
/// <param name="Kept">Original token indices [0, N) (the vision tower's raster order), ascending.</param>
/// <param name="VisualCount">Visual tokens leaving the step, merged tokens included (so Kept.Count ≤ VisualCount).</param>
public sealed record KeptVisualStep(string Label, IReadOnlyList<long> Kept, long VisualCount);

/// <summary>
/// Maps the kept sets a prefill reports back to the original visual tokens of its one image. Each intra-LLM stage
/// reports indices local to the visual tokens entering it (<see cref="PruningStageReport.KeptLocalIndices"/>), already
/// renumbered by the earlier cuts, and the pre-LLM reducer reports, per row it passes on, the input row it stands for;
/// composing them gives original indices per step. Tokens that stand for no single original token (a pre-LLM row with
/// index −1, e.g. VisionZip's merged contextual tokens; SparseVLM's recycled tokens, appended after the kept ones) are
/// carried through the renumbering but never reported as kept.
/// </summary>
public static class KeptVisualTokens
{
    /// <summary>
    /// One step per pruning stage: the pre-LLM reduction when there was one, then each intra-LLM stage in order.
    /// Empty when nothing pruned.
    /// </summary>
    /// <param name="originalTokens">Visual tokens the vision tower produced for the image
    /// (<see cref="Generation.GenerationStats.VisualTokensBeforeReduction"/>).</param>
    /// <exception cref="ArgumentException">The prefill had several images, or a reported index is outside the tokens
    /// entering its stage.</exception>
    public static IReadOnlyList<KeptVisualStep> Trace(long originalTokens, PreLlmStageReport? preLlm, IReadOnlyList<PruningStageReport> stages) =>
        Compose(originalTokens, preLlm, stages).Select(c => Step(c.AfterLayer is int l ? $"after layer {l}" : "pre-LLM", c.Original)).ToList();

    /// <summary>
    /// The composition itself, the one both <see cref="Trace"/> and <see cref="KeptTokenTrace"/> use: per step, in
    /// sequence order, the original index each visual token leaving the step stands for (−1 for a merged or recycled
    /// token). Recycled tokens sit right after the kept ones (SparseVLM appends them there), so later stages, whose
    /// local indices count them too, still map.
    /// </summary>
    public static IReadOnlyList<KeptTokens> Compose(long originalTokens, PreLlmStageReport? preLlm, IReadOnlyList<PruningStageReport> stages)
    {
        ArgumentNullException.ThrowIfNull(stages);
        if (originalTokens < 0) throw new ArgumentOutOfRangeException(nameof(originalTokens), $"visual token count {originalTokens} is negative");
        var steps = new List<KeptTokens>();
        // current[i] = the original index the i-th visual token of the sequence stands for, −1 for a merged token.
        long[] current = PruningStageReport.AllOf(originalTokens);
        if (preLlm is not null)
        {
            if (preLlm.KeptIndices.Count != 1)
                throw new ArgumentException($"kept-token tracing needs a prompt with one image; the pre-LLM report has {preLlm.KeptIndices.Count}", nameof(preLlm));
            foreach (long i in preLlm.KeptIndices[0])
                if (i < -1 || i >= originalTokens)
                    throw new ArgumentException($"pre-LLM kept index {i} is outside −1..{originalTokens - 1}", nameof(preLlm));
            current = [.. preLlm.KeptIndices[0]];
            steps.Add(new KeptTokens(null, current));
        }
        foreach (var stage in stages)
        {
            if (stage.VisualBefore != current.Length)
                throw new ArgumentException($"the stage after layer {stage.AfterLayer} reports {stage.VisualBefore} visual tokens entering it, " +
                                            $"but the earlier steps leave {current.Length}", nameof(stages));
            if (stage.VisualAfter < stage.KeptLocalIndices.Count)
                throw new ArgumentException($"the stage after layer {stage.AfterLayer} keeps {stage.KeptLocalIndices.Count} tokens but reports only {stage.VisualAfter} leaving it", nameof(stages));
            var next = new long[stage.VisualAfter];
            Array.Fill(next, -1);   // merged tokens a method appends after the kept ones
            for (int k = 0; k < stage.KeptLocalIndices.Count; k++)
            {
                long local = stage.KeptLocalIndices[k];
                if (local < 0 || local >= current.Length)
                    throw new ArgumentException($"the stage after layer {stage.AfterLayer} keeps local index {local}, outside 0..{current.Length - 1}", nameof(stages));
                next[k] = current[local];
            }
            current = next;
            steps.Add(new KeptTokens(stage.AfterLayer, current));
        }
        return steps;
    }

    static KeptVisualStep Step(string label, long[] current) =>
        new(label, current.Where(i => i >= 0).Distinct().Order().ToArray(), current.Length);
}
