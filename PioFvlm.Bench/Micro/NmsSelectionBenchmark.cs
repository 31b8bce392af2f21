using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using PioFvlm.Core.Pruning.Selectors;
using PioFvlm.Core.Runtime;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Micro;

/// <summary>
/// PIO-FVLM's feature-space NMS selection (<see cref="FeatureNms"/>, rows computed only for visited candidates) against
/// a plain full-matrix NMS (normalise, the whole V × V Gram matrix, the same greedy two-pass selection) on fp32
/// features [V, 4096]. The features are clustered (V / 6 random centres plus noise, within-cluster cosine ≈ 0.86 above
/// the 0.8 threshold) so suppression really happens, as it does among neighbouring image patches. The cost is the
/// selection alone: features and scores are built once.
/// </summary>
[BenchmarkCategory("micro", "nms")]
[SimpleJob(RunStrategy.Throughput, warmupCount: 1, iterationCount: 5)]
public class NmsSelectionBenchmark
{
    const int Hidden = 4096;

    /// <summary>Visual tokens: LLaVA-1.5 (576) and LLaVA-NeXT's anyres maximum (2,928).</summary>
    [Params(576, 2928)]
    public int Tokens { get; set; }

    [Params(64, 192)]
    public int Keep { get; set; }

    Tensor _features = null!, _scores = null!;
    readonly FeatureNms _nms = new();

    [GlobalSetup]
    public void Setup()
    {
        TorchRuntime.EnsureLoaded();
        _features = ClusteredFeatures(Tokens, Hidden, seed: 11);
        manual_seed(12);
        _scores = rand(Tokens);
        // The speed only counts if the selection is the fp32 full-matrix reference's, token for token.
        var fast = _nms.Select(_features, _scores, Keep);
        var reference = FullMatrixNms(_features, _scores, Keep, FeatureNms.DefaultThreshold);
        if (!fast.SequenceEqual(reference))
            throw new InvalidOperationException($"FeatureNms (V = {Tokens}, keep {Keep}) selected [{string.Join(", ", fast)}], " +
                                                $"the fp32 full-matrix reference [{string.Join(", ", reference)}]");
    }

    /// <summary>[tokens, dim] fp32 features in tokens / 6 clusters (random centres plus 0.4 noise: within-cluster cosine ≈ 0.86).</summary>
    public static Tensor ClusteredFeatures(int tokens, int dim, int seed)
    {
        manual_seed(seed);
        using var scope = NewDisposeScope();
        var centres = randn(Math.Max(1, tokens / 6), dim);
        var assignment = randint(centres.shape[0], [tokens], dtype: ScalarType.Int64);
        return (centres.index_select(0, assignment) + 0.4 * randn(tokens, dim)).MoveToOuterDisposeScope();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _features.Dispose();
        _scores.Dispose();
    }

    [Benchmark(Baseline = true, Description = "FeatureNms (visited rows)")]
    public long[] FeatureNmsSelect() => _nms.Select(_features, _scores, Keep);

    [Benchmark(Description = "full V×V matrix")]
    public long[] FullMatrixSelect() => FullMatrixNms(_features, _scores, Keep, FeatureNms.DefaultThreshold);

    /// <summary>The textbook form: every pairwise cosine, then the greedy strict pass and the saliency-order fill.</summary>
    public static long[] FullMatrixNms(Tensor features, Tensor scores, int keep, double threshold)
    {
        int count = (int)features.shape[0];
        int budget = Math.Min(keep, count);
        bool[] neighbours;
        float[] score;
        using (var scope = NewDisposeScope())
        {
            var normalized = nn.functional.normalize(features.to(ScalarType.Float32), p: 2, dim: 1);
            neighbours = normalized.matmul(normalized.t()).ge(threshold).contiguous().data<bool>().ToArray();
            score = scores.to(ScalarType.Float32).contiguous().data<float>().ToArray();
        }
        var order = Enumerable.Range(0, count).OrderByDescending(i => score[i]).ThenBy(i => i).ToArray();
        var suppressed = new bool[count];
        var chosen = new bool[count];
        var selected = new List<long>(budget);
        foreach (int i in order)
        {
            if (selected.Count == budget) break;
            if (suppressed[i]) continue;
            selected.Add(i);
            chosen[i] = true;
            for (int j = 0; j < count; j++)
                if (neighbours[i * count + j]) suppressed[j] = true;
        }
        foreach (int i in order)
        {
            if (selected.Count == budget) break;
            if (chosen[i]) continue;
            chosen[i] = true;
            selected.Add(i);
        }
        var kept = selected.ToArray();
        Array.Sort(kept);
        return kept;
    }
}
