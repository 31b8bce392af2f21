using PioFvlm.Bench.Eval.Runner;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Tests.Pruning;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Demo;

/// <summary>The Oracle control: relevant tokens first, then Random's seeded draw; only with the ground truth.</summary>
public sealed class OracleTests
{
    const string Config = """{ "Method": "Oracle", "Stages": { "s1": { "AfterLayer": 1, "Keep": KEEP } } }""";

    static long[] Kept(MethodSpec spec, long[] relevant)
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        using var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, [3, 32, 6]);
        using var cache = PruningTestKit.Cache(lm);
        var plan = spec.GroundTruthPlan!(relevant);
        using var prefill = DecoderRunner.Prefill(lm, seq, cache, plan.Intra);
        return [.. prefill.Stages.Single().KeptLocalIndices];
    }

    /// <summary>Random's draw for the stage after layer 1 (seed 0), highest first: the order the fill must follow.</summary>
    static long[] RandomOrder(int count)
    {
        using var scope = NewDisposeScope();
        using var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, [3, count, 6]);
        var state = new PrefillState(seq.Embeddings, seq.PositionIds, seq.VisualSpans, seq.TokenIds, 1);
        var scores = new RandomScorer(0).Score(state, lm).data<float>().ToArray();
        return Enumerable.Range(0, count).OrderByDescending(i => scores[i]).Select(i => (long)i).ToArray();
    }

    [Test]
    public void KeepsEveryRelevantTokenAndFillsTheRestAsRandomDraws()
    {
        var spec = OracleMethod.Spec("Oracle-7", Config.Replace("KEEP", "7"), "test", null);
        long[] relevant = [2, 9, 30];
        var kept = Kept(spec, relevant);
        Assert.That(kept, Has.Length.EqualTo(7));
        Assert.That(kept, Is.SupersetOf(relevant));
        var fill = RandomOrder(32).Where(i => !relevant.Contains(i)).Take(4);
        Assert.That(kept.Except(relevant), Is.EquivalentTo(fill), "the other 4 are Random's top draws");
    }

    [Test]
    public void ABudgetBelowTheRelevantCountKeepsOnlyRelevantTokens()
    {
        var spec = OracleMethod.Spec("Oracle-2", Config.Replace("KEEP", "2"), "test", null);
        long[] relevant = [2, 9, 30, 31];
        var kept = Kept(spec, relevant);
        Assert.That(kept, Has.Length.EqualTo(2));
        Assert.That(relevant, Is.SupersetOf(kept));
        var draw = RandomOrder(32).Where(relevant.Contains).Take(2);
        Assert.That(kept, Is.EquivalentTo(draw), "which relevant tokens: Random's order among them");
    }

    [Test]
    public void WithoutTheGroundTruthItRefusesToScore()
    {
        var spec = OracleMethod.Spec("Oracle-7", Config.Replace("KEEP", "7"), "test", null);
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        using var lm = PruningTestKit.Model();
        using var seq = PruningTestKit.Prompt(lm, [3, 32, 6]);
        using var cache = PruningTestKit.Cache(lm);
        Assert.That(() => DecoderRunner.Prefill(lm, seq, cache, spec.Plan.Intra),
                    Throws.InvalidOperationException.With.Message.Contains("relevant visual tokens"));
    }

    [Test]
    public void OnlyOneIntraLlmStageIsAccepted()
    {
        const string two = """{ "Method": "Oracle", "Stages": { "s1": { "AfterLayer": 1, "Keep": 7 }, "s2": { "AfterLayer": 3, "Keep": 4 } } }""";
        Assert.That(() => OracleMethod.Spec("o", two, "Run:Methods:o", null), Throws.TypeOf<RunConfigException>().With.Message.Contains("exactly one intra-LLM stage"));
        const string pre = """{ "Method": "Oracle", "Stages": { "ve": { "Method": "VisionZip", "Keep": 7 }, "s1": { "AfterLayer": 1, "Keep": 4 } } }""";
        Assert.That(() => OracleMethod.Spec("o", pre, "Run:Methods:o", null), Throws.TypeOf<RunConfigException>().With.Message.Contains("no pre-LLM stage"));
    }
}
