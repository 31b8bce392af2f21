using PioFvlm.Core.Generation;
using PioFvlm.Core.IO;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Core.Pruning.Selectors;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>
/// PIO-FVLM on the tiny HF LLaVA against llava/pio_reference.safetensors, written by scripts/hf_parity/make_fixtures.py
/// with autograd in PyTorch on HF's own decoder layers (fp32 gradients, README "PIO-FVLM semantics"): saliency, the
/// feature NMS, and the whole pruned prefill + greedy decode, per schedule.
/// </summary>
public class LlavaPioHfParityTests
{
    const int ImageTokenId = 1000;
    static readonly GradientSaliencyOptions Saliency = GradientSaliencyOptions.Llava with { Fp32Gradient = true };

    [TestCase("r1_k20", 0)]
    [TestCase("r1_k10", 0)]
    [TestCase("r1_k24_r3_k12", 0)]
    [TestCase("r1_k24_r3_k12", 1)]
    public void SaliencyAndNmsMatchTheReference(string schedule, int stage)
    {
        using var fixture = HfLlavaFixture.Load("llava");
        using var pio = HfFixtures.Open("llava", "pio_reference.safetensors");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        string s = $"{schedule}.stage{stage}";
        var hidden = pio.Load($"{s}.hidden_in");
        long start = Scalar(pio, "visual_start"), count = Scalar(pio, $"{s}.visual_count_in");
        int afterLayer = (int)Scalar(pio, $"{s}.after_layer");
        int keep = (int)pio.Load($"{schedule}.schedule", ScalarType.Int64)[stage, 1].item<long>();
        var state = new PrefillState(hidden, pio.Load($"{s}.position_ids_in", ScalarType.Int64), [new VisualSpan(start, count, 0)],
                                     TokenIds(pio, hidden.shape[1], start, count), afterLayer);
        var lm = fixture.Model.LanguageModel;
        var scorer = new GradientSaliency(Saliency);

        var probe = scorer.Probe(state, lm);
        Assert.That(probe.WindowPositions, Is.EqualTo(Longs(pio, $"{s}.supervised_positions")), "supervised positions");
        Assert.That(probe.PseudoLabels, Is.EqualTo(Longs(pio, $"{s}.pseudo_labels")), "pseudo-labels (argmax)");
        double expectedLoss = pio.Load($"{s}.loss").item<float>();
        TestContext.Out.WriteLine($"{s}: loss ours {probe.Loss:G9}, HF {expectedLoss:G9}, |diff| {Math.Abs(probe.Loss - expectedLoss):G3}");
        Assert.That(probe.Loss, Is.EqualTo(expectedLoss).Within(1e-4 * Math.Abs(expectedLoss)), "probe loss");
        TensorAssert.CloseReported(probe.Gradient.norm(1), pio.Load($"{s}.saliency_full"), 1e-7, 1e-4, $"{s}: gradient norm, every position");

        var scores = scorer.Score(state, lm);
        var expected = pio.Load($"{s}.saliency");
        TensorAssert.CloseReported(scores, expected, 0, 1e-4, $"{s}: saliency (visual)");
        var ourOrder = SaliencyOrder.Descending(SaliencyOrder.ReadScores(scores, count));
        var theirOrder = SaliencyOrder.Descending(SaliencyOrder.ReadScores(expected, count));
        Assert.That(ourOrder, Is.EqualTo(theirOrder), $"{s}: descending saliency order");

        var features = hidden[0].narrow(0, start, count);
        var unit = nn.functional.normalize(features, p: 2, dim: 1);
        TensorAssert.CloseReported(unit.mm(unit.t()), pio.Load($"{s}.cosine"), 1e-5, 0, $"{s}: cosine of the visual features");
        var kept = new FeatureNms(pio.Load("tau").item<float>()).Select(features, scores, keep);
        var expectedKept = Longs(pio, $"{s}.kept_local");
        TestContext.Out.WriteLine($"{s}: kept ours [{string.Join(", ", kept)}]");
        TestContext.Out.WriteLine($"{s}: kept HF   [{string.Join(", ", expectedKept)}]");
        Assert.That(kept, Is.EqualTo(expectedKept), $"{s}: NMS kept_local");
        Assert.That(kept.Select(k => k + start).ToArray(), Is.EqualTo(Longs(pio, $"{s}.kept_global")), $"{s}: kept_global");
    }

    [TestCase("r1_k20")]
    [TestCase("r1_k10")]
    [TestCase("r1_k24_r3_k12")]
    public void PrunedGenerationMatchesTheReference(string schedule)
    {
        using var fixture = HfLlavaFixture.Load("llava");
        using var pio = HfFixtures.Open("llava", "pio_reference.safetensors");
        using var main = HfFixtures.Open("llava", "reference.safetensors");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var model = fixture.Model;
        var ids = HfFixtures.Ids(pio.Load("input_ids", ScalarType.Int64));
        Assert.That(ids, Is.EqualTo(HfFixtures.Ids(main.Load("input_ids", ScalarType.Int64))), "the PIO fixture is the main case");
        using var sequence = model.BuildSequence(ids, model.EncodeImages(main.Load("pixel_values")));
        TensorAssert.CloseReported(sequence.Embeddings, pio.Load("inputs_embeds"), 1e-4, 0, "inputs_embeds");

        var stages = pio.Load($"{schedule}.schedule", ScalarType.Int64);
        var plan = PioFvlmMethod.Create(new PioFvlmOptions
        {
            Schedule = new PruningSchedule
            {
                Name = schedule,
                Stages = Enumerable.Range(0, (int)stages.shape[0])
                    .Select(j => new PruningStage { AfterLayer = (int)stages[j, 0].item<long>(), Keep = (int)stages[j, 1].item<long>() }).ToList(),
            },
            Saliency = Saliency,
        });
        var expectedTokens = HfFixtures.Ids(pio.Load($"{schedule}.gen_tokens", ScalarType.Int64));
        var (tokens, logits, report) = HfFixtures.GreedySteps(model.LanguageModel, sequence, plan.Intra, plan.Positions ?? PositionPolicy.Compact, expectedTokens.Count);

        Assert.That(report, Has.Count.EqualTo(stages.shape[0]), "stages run");
        for (int j = 0; j < report.Count; j++)
            Assert.That(report[j].KeptLocalIndices, Is.EqualTo(Longs(pio, $"{schedule}.stage{j}.kept_local")), $"stage {j}: kept_local");
        TensorAssert.CloseReported(logits[0], pio.Load($"{schedule}.prefill_last_logits"), 1e-4, 0, $"{schedule}: prefill last logits");
        TensorAssert.CloseReported(logits, pio.Load($"{schedule}.gen_step_logits"), 1e-4, 0, $"{schedule}: decode step logits");
        TestContext.Out.WriteLine($"{schedule}: tokens ours [{string.Join(", ", tokens)}], HF [{string.Join(", ", expectedTokens)}]");
        Assert.That(tokens, Is.EqualTo(expectedTokens), $"{schedule}: greedy tokens");
    }

    static long Scalar(ITensorSource source, string name) => source.Load(name, ScalarType.Int64).reshape(-1)[0].item<long>();

    static long[] Longs(ITensorSource source, string name) => source.Load(name, ScalarType.Int64).reshape(-1).data<long>().ToArray();

    /// <summary>The prompt ids with the visual span cut to the stage's count (the ids the pruned sequence carries).</summary>
    static List<int> TokenIds(ITensorSource pio, long length, long start, long count)
    {
        var ids = HfFixtures.Ids(pio.Load("input_ids", ScalarType.Int64));
        long original = Scalar(pio, "visual_count");
        var cut = ids.Take((int)start).Concat(Enumerable.Repeat(ImageTokenId, (int)count)).Concat(ids.Skip((int)(start + original))).ToList();
        Assert.That(cut, Has.Count.EqualTo(length), "token ids for the stage input");
        return cut;
    }
}
