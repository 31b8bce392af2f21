using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.Saliency;

/// <summary>
/// PIO-FVLM's gradient saliency (spec pio-fvlm.md §2): X = detached hidden states after r layers (model dtype,
/// requires grad) → one decoder layer (causal, current positions, no KV cache) → final norm → head → logits at the
/// supervised window, L = mean_j [logsumexp(z_j) − z_j[argmax z_j]] in fp32 (fp64 for fp64 models) with the argmax
/// labels detached → G = ∂L/∂X by autograd (no parameter gradients) → s_i = ‖G_i‖₂ for the visual positions.
/// Runs inside its own enable-grad scope, so callers keep their no_grad; never touches a KV cache or the state.
/// </summary>
public sealed class GradientSaliency : ISaliencyScorer
{
    public GradientSaliencyOptions Options { get; }

    public GradientSaliency(GradientSaliencyOptions? options = null)
    {
        Options = (options ?? new GradientSaliencyOptions()).Validate();
    }

    /// <inheritdoc/>
    public Tensor Score(PrefillState state, IDecoderStack decoder) => ScoreWithDiagnostics(state, decoder).Scores;

    /// <summary>
    /// Float32 scores [V] (visual spans concatenated in sequence order) and diagnostics. The scores are raw: NaN, inf or
    /// all-zero scores are returned as they are and flagged, and the caller decides on a fallback.
    /// </summary>
    public SaliencyResult ScoreWithDiagnostics(PrefillState state, IDecoderStack decoder)
    {
        using var _ = NewDisposeScope();
        var probe = Probe(state, decoder);
        var visual = VisualIndices(state, probe.Gradient.device);
        // The norm is taken in the gradient's dtype (fp16/bf16 as the reference, spec §3.4), then widened.
        var scores = probe.Gradient.index_select(0, visual).norm(1).to_type(ScalarType.Float32);
        long nonFinite = scores.isfinite().logical_not().sum().item<long>();
        bool allZero = scores.numel() > 0 && scores.eq(0).all().item<bool>();
        var diagnostics = new SaliencyDiagnostics(nonFinite, allZero, probe.Loss, probe.ProbeLayer, probe.WindowPositions);
        return new SaliencyResult(scores.MoveToOuterDisposeScope(), diagnostics);
    }

    /// <summary>
    /// Runs the probe and returns G = ∂L/∂X for every position ([S, hidden], probe dtype), with the loss, the window and
    /// the pseudo-labels.
    /// </summary>
    public ProbeGradient Probe(PrefillState state, IDecoderStack decoder)
    {
        var hidden = state.Hidden;
        if (hidden.dim() != 3 || hidden.shape[0] != 1 || hidden.shape[2] != decoder.Dims.HiddenSize)
            throw new ArgumentException($"GradientSaliency: hidden must be [1, S, {decoder.Dims.HiddenSize}], got [{string.Join(", ", hidden.shape)}]");
        if (state.PositionIds.dim() != 2 || state.PositionIds.shape[1] != hidden.shape[1])
            throw new ArgumentException($"GradientSaliency: position ids [{string.Join(", ", state.PositionIds.shape)}] do not cover the {hidden.shape[1]} positions of hidden");
        int index = state.LayersDone + Options.ProbeLayerOffset;
        if (index < 0 || index >= decoder.LayerCount)
            throw new ArgumentOutOfRangeException(nameof(state),
                $"GradientSaliency: probe layer r + offset = {state.LayersDone} + {Options.ProbeLayerOffset} = {index} is outside 0..{decoder.LayerCount - 1}");

        var layer = decoder.Layer(index);
        var modelType = layer.SelfAttention.QProj.weight!.dtype;
        var probeType = Options.Fp32Gradient && modelType is ScalarType.Float16 or ScalarType.BFloat16 ? ScalarType.Float32 : modelType;
        var lossType = probeType == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        long[] positions = SupervisedPositions.For(hidden.shape[1], Options.Window, Options.WindowSize);
        var head = Options.Head == ProbeHead.FinalNormLmHead ? decoder.OutputHeadWeight : decoder.InputEmbeddingWeight;

        using var _ = NewDisposeScope();
        using var grad = enable_grad();
        var x = hidden.detach().to_type(probeType).requires_grad_(true);
        var rope = decoder.Rope(state.PositionIds, probeType);
        var window = tensor(positions, ScalarType.Int64, x.device);
        Tensor logits;
        if (Options.Probe is ProbeImplementation.Cheap or ProbeImplementation.CheapAllValues)
            logits = CheapProbe.WindowLogits(layer, x, rope, window, decoder.Norm, head, probeType,
                                             foldValues: Options.Probe == ProbeImplementation.Cheap);
        else if (probeType == modelType)
            logits = FullProbe.WindowLogits(layer, x, rope, window, decoder.Norm, head, probeType);
        else
        {
            using var copy = FullProbe.CopyIn(layer, decoder.Dims, probeType);
            logits = FullProbe.WindowLogits(copy, x, rope, window, decoder.Norm, head, probeType);
        }

        var z = logits[0].to_type(lossType);                                        // [L, vocab]
        var labels = z.argmax(-1).detach();                                         // pseudo-labels, held fixed
        var picked = z.gather(-1, labels.unsqueeze(-1)).squeeze(-1);
        var loss = (z.logsumexp(-1) - picked).mean();
        var gradient = autograd.grad([loss], [x])[0].detach()[0];
        double lossValue = loss.to_type(ScalarType.Float64).item<double>();
        return new ProbeGradient(gradient.MoveToOuterDisposeScope(), double.IsFinite(lossValue) ? lossValue : double.NaN,
                                 index, positions, labels.cpu().data<long>().ToArray());
    }

    /// <summary>
    /// Forward matmul FLOPs of one probe call (2 per multiply-add; projections, attention scores and values, MLP, head;
    /// norms and softmax ignored). The backward to X costs about as much again (no weight gradients).
    /// </summary>
    public static double ForwardFlops(DecoderDims dims, long length, IReadOnlyList<long> window, ProbeImplementation probe)
    {
        double h = dims.HiddenSize, q = (double)dims.NumHeads * dims.HeadDim, kv = (double)dims.NumKvHeads * dims.HeadDim;
        double perQueryRow = 2 * h * q + 2 * q * h + 3 * 2 * h * dims.IntermediateSize + 2 * h * dims.VocabSize;
        if (probe == ProbeImplementation.Full)
            // Every row is a query row; K and V for every row; QKᵀ and PV, 2 · 2 · q per (query, visible key) pair.
            return length * (perQueryRow + 2 * 2 * h * kv) + 4 * q * (length * (length + 1) / 2.0);
        double pairs = window.Sum(p => (double)(p + 1));     // causal window rows see p + 1 keys
        if (probe == ProbeImplementation.CheapAllValues)
            return window.Count * perQueryRow + length * 2 * 2 * h * kv + 4 * q * pairs;
        // Cheap: K for every row, QKᵀ (2 · q per pair), P X̂ (2 · hidden per pair and query head), (P X̂) W_vᵀ per window row.
        return window.Count * (perQueryRow + 2 * h * q) + length * 2 * h * kv + 2 * q * pairs + 2 * h * dims.NumHeads * pairs;
    }

    /// <summary>Int64 [V]: the sequence indices of the visual spans, concatenated; spans must be ascending and disjoint.</summary>
    static Tensor VisualIndices(PrefillState state, Device device)
    {
        var indices = new List<long>();
        long previousEnd = 0;
        foreach (var span in state.VisualSpans)
        {
            if (span.Start < previousEnd || span.Length < 0 || span.End > state.Length)
                throw new ArgumentException($"GradientSaliency: visual span [{span.Start}, {span.End}) is out of order, overlapping or outside the {state.Length} positions");
            for (long i = span.Start; i < span.End; i++) indices.Add(i);
            previousEnd = span.End;
        }
        return tensor(indices.ToArray(), ScalarType.Int64, device);
    }
}
