using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Core.Pruning.Selectors;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

[NonParallelizable]
public sealed class PrunerMemoryTests
{
    [TestCase(-1)]
    [TestCase(0)]
    [TestCase(1)]
    [TestCase(2)]
    public void RepeatedPrunedGenerations_DoNotGrowLiveTensors(int which)
    {
        using var ng = no_grad();
        using var lm = PruningTestKit.Model(ScalarType.Float32);
        using var seq = PruningTestKit.Prompt(lm, [3, 12, 5]);
        using var cache = PruningTestKit.Cache(lm, ScalarType.Float32);
        var pruners = new IPrefillPruner[]
        {
            new ScoreThenSelectPruner(new RandomScorer(1), new FeatureNms(0.5), PruningTestKit.Schedule((1, 7), (3, 3))),
            new ScoreThenSelectPruner(new FeatureNormScorer(), new TopKSelector(), PruningTestKit.Schedule((2, 0))),
            new ScoreThenSelectPruner(new FixedScoreScorer(new float[12]), new FeatureNms(), PruningTestKit.Schedule((2, 4))),
        };
        NativeMemory.AssertNoGrowth(() =>
        {
            foreach (var pruner in which < 0 ? new IPrefillPruner?[] { null } : [pruners[which]])
            {
                cache.Reset();
                using var prefill = DecoderRunner.Prefill(lm, seq, cache, pruner, PositionPolicy.Compact);
                DecoderRunner.Greedy(lm, prefill, cache, new GenerationOptions { MaxNewTokens = 4, StopAtEos = false }, []);
            }
        }, repeats: 3, what: "pruned prefill (NMS, keep 0, fallback) + 4 greedy tokens");
    }
}
