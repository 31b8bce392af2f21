using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Efficiency;
using PioFvlm.Tests.Models;
using static TorchSharp.torch;
using PioFvlm.Models;
using PioFvlm.Models.Llava;

namespace PioFvlm.Tests.Pruning;

/// <summary>FLOPs and KV sizes against the spec's numbers (§9, §10, §14) and brute-force matmul enumerations.</summary>
public sealed class EfficiencyFlopsAndKvTests
{
    static DecoderDims Llava15 => ModelProfiles.Find("llava-1.5-7b")!.Text;

    static TokenSchedule Preset(string name, long visual, long text)
    {
        var p = Llava15Presets.Get(name);
        return TokenSchedule.Build(32, p.VisualEnteringLlm(visual), text, p.Stages);
    }

    [Test]
    public void PaperFormula_Unpruned7B_MatchesSpec()
    {
        // §14: f(576)·32 = 2.9861e12 and f(2880)·32 = 1.66698e13 (the NeXT row is Vicuna-7B, d 4096, m 11008).
        long llava = FlopCount.Paper(Enumerable.Repeat(576L, 32), Llava15);
        long next = FlopCount.Paper(Enumerable.Repeat(2880L, 32), ModelProfiles.Find("llava-next-7b")!.Text);
        Assert.That(llava, Is.EqualTo(2.9861e12).Within(0.00005e12));
        Assert.That(next, Is.EqualTo(1.66698e13).Within(0.000005e13));
        // By hand: 4·576·4096² + 2·576²·4096 + 2·576·4096·11008 = 38,654,705,664 + 2,717,908,992 + 51,942,260,736.
        Assert.That(FlopCount.PaperLayer(576, 4096, 11008), Is.EqualTo(93_314_875_392L));
    }

    [Test]
    public void PaperFormula_PrunedLlava_MatchesSpecDecompositions()
    {
        // §10.2: w/o VE [1,10,15]/[92,54,22] Σf = 0.3257 T, + one probe forward per event (f(576)+f(92)+f(54) = 0.1164 T)
        // = 0.442 T; w/ VE 96→32 @16: Σf = 0.3235 T.
        var wo = EfficiencyReport.Estimate(Preset("pio-11", 576, 60), Llava15, ScalarType.Float16);
        Assert.That(wo.PaperFlops, Is.EqualTo(0.3257e12).Within(0.00005e12));
        Assert.That(wo.PaperProbeForwardFlops, Is.EqualTo(0.1164e12).Within(0.00005e12));
        Assert.That(wo.PaperFlops + wo.PaperProbeForwardFlops, Is.EqualTo(0.442e12).Within(0.0005e12));
        var ve = EfficiencyReport.Estimate(Preset("pio-ve-11", 576, 60), Llava15, ScalarType.Float16);
        Assert.That(ve.PaperFlops, Is.EqualTo(0.3235e12).Within(0.00005e12));
    }

    [Test]
    public void KvCache_7BLlama_HalfMiBPerToken_318And62MiB()
    {
        Assert.That(KvCacheSize.BytesPerPosition(Llava15, ScalarType.Float16) * 32, Is.EqualTo(512 * 1024), "0.5 MiB per token over 32 layers");
        const double MiB = 1 << 20;
        var vanilla = EfficiencyReport.Estimate(TokenSchedule.Unpruned(32, 576, 60), Llava15, ScalarType.Float16);
        Assert.That(vanilla.KvBytes / MiB, Is.EqualTo(318));
        foreach (var preset in new[] { "pio-11", "pio-ve-11" })
        {
            var pruned = EfficiencyReport.Estimate(Preset(preset, 576, 60), Llava15, ScalarType.Float16);
            Assert.That(pruned.KvBytes / MiB, Is.EqualTo(62), preset);
            Assert.That(pruned.CompareTo(vanilla).KvReduction, Is.EqualTo(318.0 / 62).Within(1e-12), preset);
        }
    }

    [Test]
    public void KvCache_Qwen7B_56KiBPerToken()
    {
        var qwen = ModelProfiles.Find("qwen2.5-vl-7b")!.Text;
        Assert.That(KvCacheSize.BytesPerPosition(qwen, ScalarType.BFloat16), Is.EqualTo(2 * 1024));
        Assert.That(KvCacheSize.Bytes(qwen, Enumerable.Repeat(1L, 28).ToList(), ScalarType.BFloat16), Is.EqualTo(56 * 1024));
    }

    /// <summary>Every matmul of one prefill layer written out as (M, K, N); FLOPs = Σ 2·M·K·N.</summary>
    static long BruteForceLayer(DecoderDims d, long q, long k)
    {
        var mm = new List<(long M, long K, long N)>
        {
            (q, d.HiddenSize, d.NumHeads * d.HeadDim),      // q_proj
            (q, d.HiddenSize, d.NumKvHeads * d.HeadDim),    // k_proj
            (q, d.HiddenSize, d.NumKvHeads * d.HeadDim),    // v_proj
        };
        for (int h = 0; h < d.NumHeads; h++)
        {
            mm.Add((q, d.HeadDim, k));                      // scores of head h
            mm.Add((q, k, d.HeadDim));                      // probabilities × values of head h
        }
        mm.Add((q, d.NumHeads * d.HeadDim, d.HiddenSize));  // o_proj
        mm.Add((q, d.HiddenSize, d.IntermediateSize));      // gate_proj
        mm.Add((q, d.HiddenSize, d.IntermediateSize));      // up_proj
        mm.Add((q, d.IntermediateSize, d.HiddenSize));      // down_proj
        return mm.Sum(m => 2 * m.M * m.K * m.N);
    }

    static DecoderDims Tiny => TinyLlama.Gqa with { NumLayers = 3, IntermediateSize = 40, HeadDim = 6, VocabSize = 50 };

    [TestCase(1L)]
    [TestCase(7L)]
    [TestCase(13L)]
    public void ExactLayer_EqualsBruteForceMatmulSum(long n)
    {
        Assert.That(FlopCount.ExactLayer(Tiny, n, n), Is.EqualTo(BruteForceLayer(Tiny, n, n)));
        Assert.That(FlopCount.ExactLayer(Tiny, 1, n + 1), Is.EqualTo(BruteForceLayer(Tiny, 1, n + 1)), "decode step");
    }

    [Test]
    public void ExactPrefill_EqualsWeightCountOfARealModelPlusAttention()
    {
        // Independent oracle from the parameters of an actual model: a linear layer with P weights costs 2·n·P FLOPs.
        using var lm = TinyLlama.Create(TinyLlama.Gqa);
        var dims = lm.Dims;
        long layerWeights = lm.named_parameters()
            .Where(p => p.name.StartsWith("model.layers.0.", StringComparison.Ordinal) && !p.name.Contains("norm"))
            .Sum(p => p.parameter.numel());
        long head = lm.LmHead.weight!.numel();
        long[] seq = [9, 5];
        long expected = seq.Sum(n => 2 * n * layerWeights + 2 * 2 * n * n * dims.NumHeads * dims.HeadDim) + 2 * head;
        Assert.That(FlopCount.ExactPrefill(seq, dims), Is.EqualTo(expected));
    }

    [Test]
    public void Probes_EqualBruteForce()
    {
        var d = Tiny;
        const long S = 11, P = 4;
        long head(long rows) => 2 * rows * d.HiddenSize * d.VocabSize;
        Assert.That(FlopCount.FullProbe(d, S), Is.EqualTo(3 * (BruteForceLayer(d, S, S) + head(S))));

        long kvWidth = d.NumKvHeads * d.HeadDim, qWidth = d.NumHeads * d.HeadDim;
        long cheapForward = 2 * 2 * S * d.HiddenSize * kvWidth       // k, v for all positions
            + 2 * P * d.HiddenSize * qWidth                           // q for 4
            + d.NumHeads * (2 * P * d.HeadDim * S + 2 * P * S * d.HeadDim)
            + 2 * P * qWidth * d.HiddenSize
            + 3 * 2 * P * d.HiddenSize * d.IntermediateSize
            + head(P);
        Assert.That(FlopCount.CheapProbe(d, S), Is.EqualTo(3 * cheapForward));
        Assert.That(FlopCount.CheapProbe(d, 2), Is.EqualTo(FlopCount.FullProbe(d, 2)),
            "with S ≤ 4 every position is supervised, so cheap = full");
    }

    [Test]
    public void Report_SumsProbesOverEventsAtTheLengthBeforeEachEvent()
    {
        var d = Tiny;
        var s = TokenSchedule.Build(3, 8, 4, [new PruningStage { AfterLayer = 1, Keep = 4 }, new PruningStage { AfterLayer = 2, Keep = 1 }]);
        var r = EfficiencyReport.Estimate(s, d, ScalarType.Float32);
        Assert.That(r.ProbeFlopsFull, Is.EqualTo(FlopCount.FullProbe(d, 12) + FlopCount.FullProbe(d, 8)));
        Assert.That(r.ProbeFlopsCheap, Is.EqualTo(FlopCount.CheapProbe(d, 12) + FlopCount.CheapProbe(d, 8)));
        Assert.That(r.ExactFlops, Is.EqualTo(BruteForceLayer(d, 12, 12) + BruteForceLayer(d, 8, 8) + BruteForceLayer(d, 5, 5) + 2 * d.HiddenSize * d.VocabSize));
        Assert.That(r.KvBytes, Is.EqualTo((12 + 8 + 5) * 2 * d.NumKvHeads * d.HeadDim * 4));
    }
}
