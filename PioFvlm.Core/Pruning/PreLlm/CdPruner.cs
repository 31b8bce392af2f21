using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.PreLlm;

/// <summary>
/// CDPruner, maximizing conditional diversity (Zhang et al., NeurIPS'25; github Theia-4869/CDPruner,
/// <c>LlavaMetaForCausalLM.encode_images</c>), before the LLM, per image:
/// <code>S_ij = cos(v_i, v_j)                      v = projected visual tokens (the LLM input rows), float32
/// r_i   = −mean_m cos(e_i, t_m)                  relevance of token i to the instruction
/// r     = (r − min r + 1e−6) / (max r − min r)   min-max over the image's tokens
/// L     = diag(r) · S · diag(r)                  conditional DPP kernel
/// keep  = greedy MAP of det(L_S), |S| = B        (Chen et al.'s incremental Cholesky), kept in raster order</code>
/// <para>
/// The relevance signal. The reference's e_i are CLIP's image embeddings of the selected layer
/// (<c>visual_projection(post_layernorm(hidden_states[−2]))</c>) and t_m its CLIP text tower's pooled embeddings of the
/// question (the prompt without template or "Answer … single word" suffix, cut into 77-token segments, m = segment).
/// LLaVA checkpoints carry neither <c>visual_projection</c> nor a text tower, so we use the LLM's own input space: e_i =
/// the projected visual token v_i, and t = the mean of the LLM input embeddings of the instruction tokens
/// (<see cref="VisionStageContext.Instruction"/>: the prompt's text after the image placeholder, template tail
/// included), one pooled vector as the reference's single segment. The reference's minus sign is kept (its code
/// negates the similarity; the paper's text describes plain relevance); <see cref="NegateRelevance"/> turns it off.
/// </para>
/// <para>
/// Differences by design: the min-max runs per image (the reference normalizes over the whole batch, which for LLaVA-1.5
/// with one image per prompt is the same); the greedy runs in float64 on the host (the reference in float32 on the
/// device); ties go to the lowest index; when every remaining marginal gain d_j² is at or below
/// <see cref="GainFloor"/> (the kernel's rank is exhausted, e.g. budget above the feature width; the reference would
/// take square roots of non-positive numbers), the rest of the budget is filled by descending relevance, then index;
/// max r = min r (all tokens equally relevant) gives r = 1.
/// </para>
/// </summary>
public sealed class CdPruner : IPreLlmReducer
{
    /// <summary>Marginal gains at or below this end the DPP picks (see the class remarks).</summary>
    public const double GainFloor = 1e-10;

    public int Budget { get; }
    public bool NegateRelevance { get; }

    public CdPruner(int budget, bool negateRelevance = true)
    {
        if (budget < 1) throw new ArgumentOutOfRangeException(nameof(budget), $"CDPruner budget {budget}: at least 1 token");
        Budget = budget;
        NegateRelevance = negateRelevance;
    }

    public VisionSignalRequest Signals { get; } = new() { InstructionEmbeddings = true };

    public PreLlmReduction Reduce(VisionStageContext context)
    {
        if (Budget >= context.TokenCount) return EncoderSignalMath.KeepAll(context);
        var instruction = context.Instruction ?? throw new ArgumentException(
            $"CDPruner: image {context.ImageIndex} comes without the instruction's embeddings (VisionStageContext.Instruction); " +
            "the model must fill them when VisionSignalRequest.InstructionEmbeddings is set");
        if (instruction.dim() != 2 || instruction.shape[0] < 1 || instruction.shape[1] != context.Features.shape[1])
            throw new ArgumentException($"CDPruner: instruction embeddings [{string.Join(", ", instruction.shape)}] must be [M ≥ 1, {context.Features.shape[1]}]");

        double[] similarity, relevance;
        int n = (int)context.TokenCount;
        using (NewDisposeScope())
        {
            var v = nn.functional.normalize(context.Features.to(ScalarType.Float32), p: 2, dim: 1, eps: 1e-12);
            var t = nn.functional.normalize(instruction.to(ScalarType.Float32).mean([0], keepdim: true), p: 2, dim: 1, eps: 1e-12);
            similarity = matmul(v, v.t()).to(ScalarType.Float64).cpu().data<double>().ToArray();
            relevance = matmul(v, t.t()).squeeze(1).to(ScalarType.Float64).cpu().data<double>().ToArray();
        }
        var kept = Select(similarity, relevance, n, Budget, NegateRelevance);
        using var index = tensor(kept, ScalarType.Int64, context.Features.device);
        return new PreLlmReduction(context.Features.index_select(0, index), kept);
    }

    /// <summary>The normalized relevance the kernel uses, from raw cosine relevances (see the class remarks).</summary>
    public static double[] NormalizeRelevance(IReadOnlyList<double> cosine, bool negate = true)
    {
        var r = cosine.Select(c => negate ? -c : c).ToArray();
        double min = r.Min(), max = r.Max();
        if (!(max > min)) return r.Select(_ => 1.0).ToArray();
        return r.Select(x => (x - min + 1e-6) / (max - min)).ToArray();
    }

    /// <summary>
    /// The kept tokens, ascending, from the N × N cosine matrix (row-major) and the raw relevance cosines.
    /// </summary>
    public static long[] Select(double[] similarity, IReadOnlyList<double> cosineRelevance, int n, int budget, bool negate = true)
    {
        if (similarity.Length != n * n || cosineRelevance.Count != n)
            throw new ArgumentException($"CDPruner: {similarity.Length} similarities and {cosineRelevance.Count} relevances for {n} tokens");
        var r = NormalizeRelevance(cosineRelevance, negate);
        var kernel = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                kernel[i * n + j] = r[i] * similarity[i * n + j] * r[j];
        var picks = GreedyMap(kernel, n, budget);
        if (picks.Count < Math.Min(budget, n))
        {
            var taken = picks.ToHashSet();
            picks.AddRange(Enumerable.Range(0, n).Where(i => !taken.Contains(i)).OrderByDescending(i => r[i])
                .Take(Math.Min(budget, n) - picks.Count));
        }
        return picks.Order().Select(i => (long)i).ToArray();
    }

    /// <summary>
    /// Greedy MAP inference of a DPP with kernel L (row-major N × N, symmetric PSD) by incremental Cholesky (Chen, Zhang
    /// and Zhou, NeurIPS'18): d_j² starts at L_jj; each step picks j* = argmax d_j² (lowest index on ties), then for every
    /// j sets e_j = (L_j*j − Σ_t c_t,j* c_t,j) / d_j* and d_j² −= e_j². Stops early when the best d_j² ≤
    /// <see cref="GainFloor"/>. Returns the picks in pick order.
    /// </summary>
    public static List<int> GreedyMap(double[] kernel, int n, int budget)
    {
        int k = Math.Min(budget, n);
        var gain = new double[n];
        for (int j = 0; j < n; j++) gain[j] = kernel[j * n + j];
        var picked = new bool[n];
        var rows = new List<double[]>(k);
        var picks = new List<int>(k);
        for (int step = 0; step < k; step++)
        {
            int best = -1;
            for (int j = 0; j < n; j++)
                if (!picked[j] && (best < 0 || gain[j] > gain[best])) best = j;
            if (gain[best] <= GainFloor) break;
            double norm = Math.Sqrt(gain[best]);
            var e = new double[n];
            for (int j = 0; j < n; j++)
            {
                double dot = 0;
                foreach (var c in rows) dot += c[best] * c[j];
                e[j] = (kernel[best * n + j] - dot) / norm;
                gain[j] -= e[j] * e[j];
            }
            rows.Add(e);
            picked[best] = true;
            picks.Add(best);
        }
        return picks;
    }
}
