using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Saliency;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Eval.Runner;

/// <summary>
/// The Oracle control's scores: the Random baseline's seeded scores in [0, 1) (<see cref="RandomScorer"/>, same seed,
/// so the same draw), plus 1 on the question's relevant visual tokens; under top-k the relevant tokens come first (in
/// random order when they exceed the budget) and the rest of the budget is filled at random. Only the first stage of a
/// prefill without a pre-LLM reducer may use it: there local indices are the tower's token indices, the space of the
/// ground truth. Built per question by <see cref="OracleMethod"/>; without the ground truth it refuses to score.
/// </summary>
public sealed class OracleScorer(IReadOnlyList<long>? relevant, long seed) : ISaliencyScorer
{
    public IReadOnlyList<long>? Relevant { get; } = relevant;

    public Tensor Score(PrefillState state, IDecoderStack decoder)
    {
        if (Relevant is null)
            throw new InvalidOperationException("the Oracle control needs the question's relevant visual tokens; only the eval runner hands them over, per question");
        if (state.Stages.Count > 0)
            throw new InvalidOperationException("the Oracle control scores only the first pruning stage (its ground truth indexes the tower's visual tokens)");
        long count = state.VisualTokenCount;
        using var scope = NewDisposeScope();
        float[] scores = new RandomScorer(seed).Score(state, decoder).to(ScalarType.Float32, CPU).data<float>().ToArray();
        foreach (long i in Relevant)
        {
            if (i >= count)
                throw new InvalidOperationException($"the Oracle control got relevant token {i}, but the prompt has {count} visual tokens (ground truth for another patch grid?)");
            scores[i] += 1;
        }
        return tensor(scores).to(state.Hidden.device).MoveToOuterDisposeScope();
    }
}
