using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning;

/// <summary>
/// The vision stage of one prompt after a <see cref="IPreLlmReducer"/>: per image, the reduced features [K_i, H_text]
/// ready to splice, and what was kept. Owns the feature tensors.
/// </summary>
public sealed class PreLlmStageResult(IReadOnlyList<Tensor> features, IReadOnlyList<long[]> keptIndices, long tokensBefore, double reductionMs)
    : IDisposable
{
    /// <summary>One [K_i, H_text] block per image, in prompt order.</summary>
    public IReadOnlyList<Tensor> Features { get; } = features;

    /// <summary>Per image, see <see cref="PreLlmReduction.KeptIndices"/>.</summary>
    public IReadOnlyList<long[]> KeptIndices { get; } = keptIndices;

    /// <summary>Visual tokens all images had before the reducer.</summary>
    public long TokensBefore { get; } = tokensBefore;

    /// <summary>Visual tokens all images have after it.</summary>
    public long TokensAfter => Features.Sum(f => f.shape[0]);

    /// <summary>Time inside <see cref="IPreLlmReducer.Reduce"/>, all images (the tower pass, signals included, is not part of it).</summary>
    public double ReductionMs { get; } = reductionMs;

    /// <summary>The same facts without the tensors, for <see cref="Generation.MultimodalSequence.PreLlm"/> and the results.</summary>
    public PreLlmStageReport Report => new(KeptIndices, TokensBefore, TokensAfter, ReductionMs);

    public void Dispose()
    {
        foreach (var f in Features) f.Dispose();
    }
}
