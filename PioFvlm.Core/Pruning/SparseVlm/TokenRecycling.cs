using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.SparseVlm;

/// <summary>One recycling result: the merged tokens and, per merged token, its DPC-KNN center and members.</summary>
/// <param name="Merged">[c, H] in the input's dtype: the uniform mean of each cluster's members.</param>
/// <param name="Centers">Index (into the recycled candidates) of each cluster's center, in cluster order.</param>
/// <param name="Members">Indices (into the recycled candidates) of each cluster's members, ascending.</param>
public sealed record RecycledTokens(Tensor Merged, IReadOnlyList<long> Centers, IReadOnlyList<IReadOnlyList<long>> Members);

/// <summary>
/// SparseVLM's token recycling (spec baselines §5.5): of the tokens dropped at a layer, the top
/// floor(0.3·|D|) + 1 by score are clustered with DPC-KNN into floor(count/10) + 1 clusters, and each cluster becomes
/// one token, the uniform mean of its members' hidden states.
/// </summary>
public static class TokenRecycling
{
    public const double RecycleFraction = 0.3;
    public const int TokensPerCluster = 10;

    /// <summary>How many dropped tokens are recycled: floor(0.3·dropped) + 1, at most all of them.</summary>
    public static int CandidateCount(int dropped) => dropped <= 0 ? 0 : Math.Min(dropped, (int)Math.Floor(RecycleFraction * dropped) + 1);

    /// <summary>How many clusters <paramref name="candidates"/> recycled tokens form: floor(count/10) + 1.</summary>
    public static int ClusterCount(int candidates) => candidates <= 0 ? 0 : Math.Min(candidates, candidates / TokensPerCluster + 1);

    /// <summary>
    /// DPC-KNN clustering of <paramref name="tokens"/> [N, C] into <paramref name="clusters"/> clusters, then the mean of
    /// each. Distances are L2 / √C in float64; density_i = exp(−mean of the squared distances to its k = clusters
    /// nearest tokens, itself included); delta_i = distance to the nearest denser token (the largest distance of all when
    /// none is denser); centers = the top <paramref name="clusters"/> of delta·density; every token joins its nearest
    /// center, centers themselves. Ties (density, score, nearest center) go to the lower index: the reference adds
    /// 1e-6 random noise to the density instead, which we leave out to stay deterministic.
    /// </summary>
    public static RecycledTokens Cluster(Tensor tokens, int clusters)
    {
        if (tokens.dim() != 2) throw new ArgumentException($"TokenRecycling: tokens must be [N, C], got [{string.Join(", ", tokens.shape)}]");
        int n = (int)tokens.shape[0];
        if (clusters < 1 || clusters > n) throw new ArgumentOutOfRangeException(nameof(clusters), clusters, $"TokenRecycling: {clusters} clusters for {n} tokens");
        using var scope = NewDisposeScope();
        var x = tokens.to(ScalarType.Float64);
        var dist = cdist(x.unsqueeze(0), x.unsqueeze(0))[0] / Math.Sqrt(tokens.shape[1]);
        double[] d = dist.cpu().contiguous().data<double>().ToArray();
        double At(int i, int j) => d[i * n + j];

        var density = new double[n];
        for (int i = 0; i < n; i++)
        {
            var row = Enumerable.Range(0, n).Select(j => At(i, j)).OrderBy(v => v).Take(clusters);
            density[i] = Math.Exp(-row.Select(v => v * v).Average());
        }
        double maxDistance = d.Max();
        var score = new double[n];
        for (int i = 0; i < n; i++)
        {
            double delta = maxDistance;
            for (int j = 0; j < n; j++)
                if (density[j] > density[i] || (density[j] == density[i] && j < i)) delta = Math.Min(delta, At(i, j));
            score[i] = delta * density[i];
        }
        long[] centers = Enumerable.Range(0, n).OrderByDescending(i => score[i]).ThenBy(i => i).Take(clusters).Select(i => (long)i).ToArray();
        var assignment = new int[n];
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            for (int c = 1; c < clusters; c++) if (At((int)centers[c], i) < At((int)centers[best], i)) best = c;
            assignment[i] = best;
        }
        for (int c = 0; c < clusters; c++) assignment[centers[c]] = c;

        var members = Enumerable.Range(0, clusters)
            .Select(c => (IReadOnlyList<long>)Enumerable.Range(0, n).Where(i => assignment[i] == c).Select(i => (long)i).ToArray()).ToArray();
        var means = members.Select(m => x.index_select(0, tensor(m.ToArray(), ScalarType.Int64, x.device)).mean([0L])).ToArray();
        var merged = stack(means, 0).to(tokens.dtype).MoveToOuterDisposeScope();
        return new RecycledTokens(merged, centers, members);
    }
}
