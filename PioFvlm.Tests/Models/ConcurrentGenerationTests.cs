using System.Diagnostics;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Dart;
using PioFvlm.Core.Pruning.SparseVlm;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Models;

/// <summary>
/// The README's promise "a pipeline may serve several threads at once", with pruning: one tiny LLaVA pipeline (4
/// decoder layers, 49 visual tokens) and one pruning plan shared by two threads that generate at the same time. Every
/// run must give exactly what the same run gives alone on one thread: tokens, stage reports, pre-LLM report.
/// </summary>
[NonParallelizable]
public class ConcurrentGenerationTests
{
    const int Layers = 4;
    const int RunsPerThread = 3;
    static readonly GenerationOptions FiveTokens = new() { MaxNewTokens = 5, StopAtEos = false };
    static readonly string[] Questions = ["What is shown?", "Describe the picture.", "Which colour dominates?",
                                          "Is there a pattern?", "Where is the light?", "What shape is it?"];

    /// <summary>Plans whose pruners kept per-call state before (reports, captured signals, raters, pivots).</summary>
    static readonly string[] Plans =
    [
        """{ "Stages": { "a": { "AfterLayer": 1, "Keep": 20 }, "b": { "AfterLayer": 2, "Keep": 8 } } }""",
        """{ "Stages": { "ve": { "Method": "VisionZip", "Keep": 30 }, "a": { "AfterLayer": 1, "Keep": 16 }, "b": { "AfterLayer": 3, "Keep": 6 } } }""",
        """{ "Method": "SparseVLM", "Stages": { "a": { "AfterLayer": 1, "Keep": 20 }, "b": { "AfterLayer": 3, "Keep": 8 } } }""",
        """{ "Method": "DART", "Stages": { "s": { "AfterLayer": 2, "Keep": 16 } } }""",
        """{ "Method": "FastV", "Stages": { "s": { "AfterLayer": 2, "Keep": 10 } } }""",
    ];

    /// <summary>What one run must reproduce, as plain values (reports hold lists, compared element-wise here).</summary>
    sealed record Outcome(int[] Tokens, long[] VisualPerLayer, string[] Stages, string? PreLlm);

    static Outcome Describe(GenerationResult r) => new(
        r.TokenIds.ToArray(),
        r.Stats.VisualTokensPerLayer.ToArray(),
        r.Stats.Stages.Select(s => $"{s.GetType().Name} after {s.AfterLayer}: {s.VisualBefore} -> {s.VisualAfter}, pruned {s.Pruned}, " +
                                   $"kept [{string.Join(",", s.KeptLocalIndices)}]{Extra(s)}").ToArray(),
        r.Stats.PreLlm is { } p ? $"{p.TokensBefore} -> {p.TokensAfter}: {string.Join(" | ", p.KeptIndices.Select(k => string.Join(",", k)))}" : null);

    static string Extra(PruningStageReport s) => s switch
    {
        SparseVlmStageReport v => $", raters [{string.Join(",", v.RaterPositions)}], recycled {string.Join(" | ", v.RecycledMembers.Select(m => string.Join(",", m)))}",
        DartStageReport d => $", image pivots [{string.Join(",", d.Selection?.ImagePivots ?? [])}], text pivots [{string.Join(",", d.Selection?.TextPivots ?? [])}]",
        _ => "",
    };

    static GenerationResult Generate(LlavaPipeline pipeline, PruningPlan plan, int job)
    {
        using var inputs = pipeline.Prepare(pipeline.FormatPrompt(Questions[job]), [LlavaTestModels.Image(40 + 3 * job, 60 - 2 * job, salt: job)],
                                            FiveTokens.MaxNewTokens);
        return pipeline.Generate(inputs, FiveTokens, plan);
    }

    [TestCaseSource(nameof(Plans))]
    public void TwoThreadsSharingOnePipelineAndOnePlanGetTheOneThreadResults(string config)
    {
        using var dir = new TempDir();
        using var pipeline = LlavaTestModels.InMemory(dir, textLayers: Layers);
        var plan = PruningConfig.Parse(config, "concurrency test");
        int jobs = 2 * RunsPerThread;

        var alone = Enumerable.Range(0, jobs).Select(j => Describe(Generate(pipeline, plan, j))).ToArray();
        int stages = config.Split("AfterLayer").Length - 1;
        Assert.That(alone.Select(o => o.Stages.Length), Is.All.EqualTo(stages), "every run reports each intra-LLM stage of the config");
        Assert.That(alone.Select(o => o.PreLlm != null), Is.All.EqualTo(config.Contains("\"ve\"")), "a pre-LLM report exactly when a reducer ran");
        Assert.That(alone.Any(o => o.VisualPerLayer[^1] < o.VisualPerLayer[0]), "the plan prunes (else the comparison proves little)");
        Assert.That(alone.Select(o => string.Join(";", o.Stages)).Distinct().Count(), Is.GreaterThan(1),
                    "different images and prompts give different reports (else a report leaking between runs would go unseen)");

        // Thread t runs jobs t, t + 2, t + 4; a barrier before each run starts both runs of a round together.
        var together = new Outcome[jobs];
        var spans = new (double Start, double End)[jobs];
        var clock = Stopwatch.StartNew();
        using var barrier = new Barrier(2);
        var threads = Enumerable.Range(0, 2).Select(t => Task.Factory.StartNew(() =>
        {
            for (int round = 0; round < RunsPerThread; round++)
            {
                if (!barrier.SignalAndWait(TimeSpan.FromMinutes(2))) throw new TimeoutException("the other thread never reached the barrier");
                int job = t + 2 * round;
                double start = clock.Elapsed.TotalMilliseconds;
                together[job] = Describe(Generate(pipeline, plan, job));
                spans[job] = (start, clock.Elapsed.TotalMilliseconds);
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        Assert.That(Task.WaitAll(threads, TimeSpan.FromMinutes(5)), "both threads finished");

        for (int j = 0; j < jobs; j++)
        {
            Assert.That(together[j].Tokens, Is.EqualTo(alone[j].Tokens), $"job {j}: tokens");
            Assert.That(together[j].VisualPerLayer, Is.EqualTo(alone[j].VisualPerLayer), $"job {j}: visual tokens per layer");
            Assert.That(together[j].Stages, Is.EqualTo(alone[j].Stages), $"job {j}: stage reports");
            Assert.That(together[j].PreLlm, Is.EqualTo(alone[j].PreLlm), $"job {j}: pre-LLM report");
        }
        bool overlapped = Enumerable.Range(0, RunsPerThread).Any(round =>
        {
            var (a, b) = (spans[2 * round], spans[2 * round + 1]);
            return a.Start < b.End && b.Start < a.End;
        });
        Assert.That(overlapped, "at least one round ran both generations at the same time");
    }
}
