namespace PioFvlm.Core.Pruning.Efficiency;

/// <summary>
/// How many tokens each decoder layer of one prefill sees: visual tokens and the whole sequence (visual + text).
/// Built from a stage list (theory) or from what a prefill recorded (<see cref="Generation.PrefillResult"/>).
/// Text tokens are never pruned, so sequence − visual is the same at every layer of a schedule built here.
/// </summary>
public sealed class TokenSchedule
{
    public IReadOnlyList<long> VisualPerLayer { get; }
    public IReadOnlyList<long> SequencePerLayer { get; }
    public int Layers => VisualPerLayer.Count;

    public TokenSchedule(IReadOnlyList<long> visualPerLayer, IReadOnlyList<long> sequencePerLayer)
    {
        if (visualPerLayer.Count == 0)
            throw new ArgumentException("a token schedule needs at least one layer");
        if (visualPerLayer.Count != sequencePerLayer.Count)
            throw new ArgumentException($"{visualPerLayer.Count} visual counts but {sequencePerLayer.Count} sequence lengths; give one of each per layer");
        for (int l = 0; l < visualPerLayer.Count; l++)
        {
            if (visualPerLayer[l] < 0 || sequencePerLayer[l] < visualPerLayer[l])
                throw new ArgumentException($"layer {l}: {visualPerLayer[l]} visual tokens in a sequence of {sequencePerLayer[l]}");
        }
        VisualPerLayer = visualPerLayer.ToArray();
        SequencePerLayer = sequencePerLayer.ToArray();
    }

    /// <summary>
    /// The counts a stage list produces on an <paramref name="layers"/>-layer decoder. <paramref name="initialVisual"/>
    /// is N0, the count entering the first decoder layer (after any pre-LLM stage); <paramref name="textTokens"/> the
    /// other prompt positions. Stage s applies after r_s layers: layers &lt; r_s see the old count (§5.1). Ratio stages
    /// take their base from <see cref="PruningStage.RatioOf"/> with N0 as the original count.
    /// </summary>
    public static TokenSchedule Build(int layers, long initialVisual, long textTokens, IEnumerable<PruningStage> stages)
    {
        if (layers <= 0) throw new ArgumentException($"layer count must be positive, got {layers}");
        if (initialVisual < 0) throw new ArgumentException($"initial visual count must not be negative, got {initialVisual}");
        if (textTokens < 0) throw new ArgumentException($"text token count must not be negative, got {textTokens}");
        if (initialVisual > int.MaxValue) throw new ArgumentException($"initial visual count {initialVisual} is too large");
        var ordered = stages.ToList();
        for (int s = 0; s < ordered.Count; s++)
        {
            ordered[s].Validate(layers);
            if (s > 0 && ordered[s].AfterLayer <= ordered[s - 1].AfterLayer)
                throw new ArgumentException($"pruning stages must have strictly increasing AfterLayer; stage {s} (after layer {ordered[s].AfterLayer}) follows stage {s - 1} (after layer {ordered[s - 1].AfterLayer})");
        }

        var visual = new long[layers];
        int current = (int)initialVisual, original = (int)initialVisual;
        int layer = 0;
        foreach (var stage in ordered)
        {
            for (; layer < stage.AfterLayer; layer++) visual[layer] = current;
            current = stage.Budget(current, original);
        }
        for (; layer < layers; layer++) visual[layer] = current;
        return new TokenSchedule(visual, visual.Select(v => v + textTokens).ToArray());
    }

    /// <summary>An unpruned prefill: every layer sees all <paramref name="visual"/> + <paramref name="textTokens"/>.</summary>
    public static TokenSchedule Unpruned(int layers, long visual, long textTokens) => Build(layers, visual, textTokens, []);

    /// <summary>
    /// The paper's average visual tokens, avg = Σ_s (r_{s+1} − r_s)·k_s / L (§5.1): the per-layer counts weighted by how
    /// many layers hold them, which is their mean.
    /// </summary>
    public double AverageVisualTokens => LayerRuns.Of(VisualPerLayer).Sum(r => (double)r.Layers * r.Count) / Layers;

    public double AverageSequenceLength => SequencePerLayer.Average();

    /// <summary>
    /// Where the sequence got shorter: after <c>AfterLayer</c> layers, from the lengths the layer before saw to the
    /// lengths the layer after sees. A stage that removes nothing is no event (the pruner does no work then, §14).
    /// </summary>
    public IReadOnlyList<PruneEvent> Events
    {
        get
        {
            var events = new List<PruneEvent>();
            for (int l = 1; l < Layers; l++)
            {
                if (SequencePerLayer[l] != SequencePerLayer[l - 1] || VisualPerLayer[l] != VisualPerLayer[l - 1])
                    events.Add(new PruneEvent(l, VisualPerLayer[l - 1], VisualPerLayer[l], SequencePerLayer[l - 1], SequencePerLayer[l]));
            }
            return events;
        }
    }
}

/// <summary>One pruning step: after <paramref name="AfterLayer"/> layers, visual and sequence counts before and after.</summary>
public readonly record struct PruneEvent(int AfterLayer, long VisualBefore, long VisualAfter, long SequenceBefore, long SequenceAfter);
