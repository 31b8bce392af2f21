using System.Diagnostics;
using PioFvlm.Core.Pruning.Selectors;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>
/// Not a test: NMS selection time at LLaVA-1.5 (V = 576) and LLaVA-NeXT (V = 2,928) sizes with d = 4,096, float32 and
/// bfloat16 features, row-wise <see cref="FeatureNms"/> (several row blocks) against a full V × V matrix version.
/// Run with <c>dotnet test PioFvlm.Tests --filter "FullyQualifiedName~NmsTimingMeasurement"</c>; numbers go to the log.
/// </summary>
[Explicit("measurement, prints timings"), Category("Slow"), NonParallelizable]
public sealed class NmsTimingMeasurement
{
    /// <summary>The same algorithm with the whole cosine matrix thresholded at once (what the reference does).</summary>
    static long[] FullMatrixNms(Tensor features, float[] scores, int keep, double tau)
    {
        using var scope = NewDisposeScope();
        int v = scores.Length;
        var normalized = nn.functional.normalize(features.to(ScalarType.Float32), p: 2, dim: 1);
        var neighbours = normalized.matmul(normalized.t()).ge(tau).cpu().contiguous().data<bool>().ToArray();
        var order = SaliencyOrder.Descending(scores);
        var suppressed = new bool[v];
        var kept = new List<int>();
        foreach (int i in order)
        {
            if (kept.Count == keep) break;
            if (suppressed[i]) continue;
            kept.Add(i);
            for (int j = 0; j < v; j++) if (neighbours[i * v + j]) suppressed[j] = true;
        }
        foreach (int i in order)
        {
            if (kept.Count == keep) break;
            if (!kept.Contains(i)) kept.Add(i);
        }
        return kept.Select(i => (long)i).Order().ToArray();
    }

    /// <summary>Fastest of several runs: the machine is shared, so the minimum is the least disturbed figure.</summary>
    static double MinMs(Action action, int repeats = 7)
    {
        action();
        var times = new List<double>();
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            action();
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        return times.Min();
    }

    [TestCase(576, 218)]
    [TestCase(576, 64)]
    [TestCase(2928, 460)]
    public void Measure(int v, int keep)
    {
        using var ng = no_grad();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            using var scope = NewDisposeScope();
            manual_seed(v + keep);
            // Clustered features (256 directions + noise) so that suppression happens, as in real hidden states.
            var centers = randn(256, 4096);
            var features = (centers.index_select(0, randint(0, 256, [v])) + 0.4 * randn(v, 4096)).to(dtype);
            var scoreTensor = rand(v);
            var scores = scoreTensor.data<float>().ToArray();
            var reference = FullMatrixNms(features, scores, keep, 0.8);
            double full = MinMs(() => FullMatrixNms(features, scores, keep, 0.8));
            var line = $"V={v} d=4096 K={keep} {dtype}: full matrix {full:F1} ms";
            foreach (int block in new[] { 1, 16, 64, 256 })
            {
                var nms = new FeatureNms(0.8, block);
                Assert.That(nms.Select(features, scoreTensor, keep), Is.EqualTo(reference), $"block {block} agrees with the full matrix");
                nms.Select(features, scoreTensor, keep, out int rows);
                line += $"; row-wise block {block}: {MinMs(() => nms.Select(features, scoreTensor, keep)):F1} ms ({rows} rows)";
            }
            var topK = new TopKSelector();
            var plain = topK.Select(features, scoreTensor, keep);
            int shared = plain.Intersect(reference).Count();
            line += $"; top-K {MinMs(() => topK.Select(features, scoreTensor, keep)):F2} ms (NMS keeps {keep - shared} tokens top-K would not)";
            TestContext.Out.WriteLine(line);
        }
    }
}
