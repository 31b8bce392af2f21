using PioFvlm.Core.Generation;
using PioFvlm.Core.IO;
using PioFvlm.Core.Models;
using PioFvlm.Core.Pruning;
using PioFvlm.Models;
using PioFvlm.Models.Qwen25Vl;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>
/// Qwen2.5-VL end to end on the HF fixture checkpoint (no tokenizer: inputs are the fixture's expanded ids): the image
/// processor, VlmLoader + Generate against HF's greedy tokens, and pruning semantics (original 3-D positions for kept
/// tokens, decode positions of the unpruned model, keep-all = unpruned bit for bit, every registry method).
/// </summary>
public class Qwen25VlPipelineTests
{
    const int Eos = 255;



    [Test]
    public void ProcessorMatchesTheHfPilProcessor()
    {
        using var reference = HfFixtures.Open("qwen25vl", "reference.safetensors");
        using var scope = NewDisposeScope();
        var images = new[] { HfFixtures.Image(reference.Load("image_0_rgb_uint8")), HfFixtures.Image(reference.Load("image_1_rgb_uint8")) };
        // Sides are multiples of 28 inside the 7B bounds: smart_resize is the identity, so every later step is exact.
        var processor = new Qwen25VlImageProcessor(new Qwen25VlProcessorOptions());
        var (pixels, grids) = processor.Preprocess(images);
        TestContext.Out.WriteLine($"processor: {processor.Options}");
        TensorAssert.Equal(Qwen25VlGrid.ToTensor(grids), reference.Load("image_grid_thw", ScalarType.Int64), "image_grid_thw");
        TensorAssert.CloseReported(pixels, reference.Load("pixel_values"), 1e-6, 0, "pixel_values [patches, 1176]");
        var counts = reference.Load("image_token_counts", ScalarType.Int64).data<long>().ToArray();
        Assert.That(grids.Select(g => g.Tokens(2)), Is.EqualTo(counts), "tokens per image");
        Assert.That(images.Select(i => Qwen25VlProfile.Reference7B.VisualTokensForImage(i.Width, i.Height)), Is.EqualTo(counts), "profile arithmetic");
        // Overridden bounds are honoured: a max of 56·56 pixels shrinks image 0 (140×196) to 2 × 2 merged tokens... at most 4.
        var small = new Qwen25VlImageProcessor(new Qwen25VlProcessorOptions { MaxPixels = 56 * 56 });
        Assert.That(small.GridFor(images[0].Width, images[0].Height).Tokens(2), Is.LessThanOrEqualTo(4));
    }

    [Test]
    public void GenerateThroughTheLoaderMatchesHfGreedyTokens()
    {
        using var fixture = Qwen25VlFixture.Open();
        var (pipeline, reference, inputs) = fixture;
        var result = pipeline.Generate(inputs, new GenerationOptions { MaxNewTokens = 8, SuppressTokens = [Eos] });
        var expected = HfFixtures.Ids(reference.Load("gen_tokens", ScalarType.Int64));
        TestContext.Out.WriteLine($"ours [{string.Join(", ", result.TokenIds)}], HF [{string.Join(", ", expected)}]");
        Assert.That(result.TokenIds, Is.EqualTo(expected));
        Assert.That(result.Stats.VisualTokensBeforeReduction, Is.EqualTo(51));
        Assert.That(pipeline.Profile.PositionRows, Is.EqualTo(3));
    }

    [Test]
    public void KeepingEveryVisualTokenIsBitIdenticalToNoPruning()
    {
        using var fixture = Qwen25VlFixture.Open();
        var (pipeline, reference, inputs) = fixture;
        using var _ = no_grad();
        var plan = PruningConfig.Parse("""{ "Method": "Random", "Stages": { "s1": { "AfterLayer": 2, "Keep": 51 } } }""", "test", pipeline.Profile);
        Assert.That(plan.Positions, Is.EqualTo(PositionPolicy.KeepOriginal), "Qwen plans default to the profile's KeepOriginal");
        var (unpruned, unprunedNext) = PrefillLogits(pipeline, inputs, null);
        var (kept, keptNext) = PrefillLogits(pipeline, inputs, plan.Intra);
        Assert.That(kept.eq(unpruned).all().item<bool>(), "prefill logits with all 51 kept vs unpruned: bit-identical");
        Assert.That(keptNext, Is.EqualTo(unprunedNext));
        Assert.That(unprunedNext, Is.EqualTo(reference.Load("position_ids", ScalarType.Int64).max().item<long>() + 1),
            "decode continues at max(position ids) + 1 (HF: cache_position + rope_delta)");
    }

    static (Tensor Logits, long Next) PrefillLogits(Qwen25VlPipeline pipeline, VlmInputs inputs, IPrefillPruner? pruner)
    {
        var vision = pipeline.BuildSequence(inputs);
        using var sequence = vision.Sequence;
        using var cache = pipeline.NewCache(sequence.Length + 1);
        using var prefill = pipeline.Prefill(sequence, cache, pruner);
        return (prefill.LastLogits.clone(), prefill.DecodeState.NextOriginalPosition);
    }

    [Test]
    public void IntraLlmPruningKeepsOriginalPositionsAndTheUnprunedDecodePosition()
    {
        using var fixture = Qwen25VlFixture.Open();
        var (pipeline, reference, inputs) = fixture;
        using var _ = no_grad();
        var vision = pipeline.BuildSequence(inputs);
        using var sequence = vision.Sequence;
        // A pruner that records what it returns: the positions of the survivors must be a column subset of the original.
        var plan = PruningConfig.Parse("""{ "Method": "FeatureNorm", "Stages": { "s1": { "AfterLayer": 1, "Keep": 10 } } }""", "test", pipeline.Profile);
        var recorder = new RecordingPruner(plan.Intra!);
        using var cache = pipeline.NewCache(sequence.Length + 4);
        using var prefill = pipeline.Prefill(sequence, cache, recorder);
        var original = sequence.PositionIds;
        var after = recorder.Result!.Value;
        Assert.That(after.PositionIds.shape, Is.EqualTo(new long[] { 3, sequence.Length - 41 }));
        var keptColumns = after.KeptColumns;
        TensorAssert.Equal(after.PositionIds, original.index_select(1, tensor(keptColumns)), "survivors keep their (t, h, w)");
        long unprunedNext = original.max().item<long>() + 1;
        Assert.That(prefill.DecodeState.NextOriginalPosition, Is.EqualTo(unprunedNext), "decode position after pruning");
        Assert.That(cache.LengthOf(3), Is.EqualTo(sequence.Length - 41), "layers after the stage cache only the kept tokens");
        Assert.That(prefill.DecodeState.PositionFor(3, cache), Is.EqualTo(unprunedNext), "not the pruned cache length");
    }

    /// <summary>Wraps a pruner and keeps the positions and the columns of the original sequence it kept.</summary>
    sealed class RecordingPruner(IPrefillPruner inner) : IPrefillPruner
    {
        public (Tensor PositionIds, long[] KeptColumns)? Result { get; private set; }
        public void Validate(int layers) => inner.Validate(layers);
        public bool PrunesAfter(int layer) => inner.PrunesAfter(layer);
        public PrefillState Begin(PrefillState state, IDecoderStack decoder) => inner.Begin(state, decoder);
        public PrefillState Prune(PrefillState state, IDecoderStack decoder)
        {
            // Columns are identified by their position triples, unique per token in this prompt (text positions are
            // unique; an image's tokens differ in (h, w)); a pruner that invented positions would fail the lookup.
            var before = state.PositionIds.t().data<long>().ToArray();
            var pruned = inner.Prune(state, decoder);
            var after = pruned.PositionIds.t().data<long>().ToArray();
            var index = new Dictionary<(long, long, long), long>();
            for (long i = 0; i < before.Length / 3; i++) index[(before[3 * i], before[3 * i + 1], before[3 * i + 2])] = i;
            var kept = Enumerable.Range(0, after.Length / 3).Select(j => index[(after[3 * j], after[3 * j + 1], after[3 * j + 2])]).ToArray();
            Result = (pruned.PositionIds.alias().DetachFromDisposeScope(), kept);
            return pruned;
        }
    }

    [TestCase("PioFvlm")]
    [TestCase("FeatureNorm")]
    [TestCase("Random")]
    [TestCase("FastV")]
    [TestCase("PDrop")]
    [TestCase("SparseVLM")]
    [TestCase("DART")]
    [TestCase("DivPruneLlm")]
    [TestCase("KeepAll")]
    public void EveryIntraLlmMethodGeneratesOnQwen(string method)
    {
        using var fixture = Qwen25VlFixture.Open();
        var (pipeline, reference, inputs) = fixture;
        var plan = PruningConfig.Parse($$"""{ "Method": "{{method}}", "Stages": { "s1": { "AfterLayer": 2, "Keep": 12 } } }""", "test", pipeline.Profile);
        var result = pipeline.Generate(inputs, new GenerationOptions { MaxNewTokens = 3, SuppressTokens = [Eos] }, plan);
        TestContext.Out.WriteLine($"{method}: [{string.Join(", ", result.TokenIds)}], visual out {result.Stats.VisualTokensOut}, positions {plan.Positions}");
        Assert.That(result.TokenIds, Has.Count.EqualTo(3));
        // DART keeps its pivots beside the budget; SparseVLM adds recycled (clustered) tokens.
        long limit = method switch { "KeepAll" => 51, "DART" => 20, "SparseVLM" => 20, _ => 12 };
        Assert.That(result.Stats.VisualTokensOut, Is.LessThanOrEqualTo(limit));
    }

    [Test]
    public void PreLlmDivPruneKeepsOriginalPositions()
    {
        using var fixture = Qwen25VlFixture.Open();
        var (pipeline, reference, inputs) = fixture;
        using var _ = no_grad();
        var full = pipeline.BuildSequence(inputs);
        using var fullSequence = full.Sequence;
        var plan = PruningConfig.Parse("""{ "Method": "DivPrune", "PreLlmKeep": 6 }""", "test", pipeline.Profile);
        var reduced = pipeline.BuildSequence(inputs, plan.PreLlm);
        using var sequence = reduced.Sequence;
        Assert.That(sequence.VisualTokenCount, Is.EqualTo(12), "6 per image");
        var kept = sequence.PreLlm!.KeptIndices;
        // Image i's token k sat at column span_i.Start + k of the unreduced sequence; its position must be unchanged.
        var fullSpans = fullSequence.VisualSpans;
        for (int img = 0; img < 2; img++)
        {
            var span = sequence.VisualSpans[img];
            var columns = kept[img].Select(k => fullSpans[img].Start + k).ToArray();
            TensorAssert.Equal(sequence.PositionIds.narrow(1, span.Start, span.Length), fullSequence.PositionIds.index_select(1, tensor(columns)),
                $"image {img}: reduced tokens keep their (t, h, w)");
        }
        Assert.That(sequence.NextPosition, Is.EqualTo(fullSequence.PositionIds.max().item<long>() + 1), "decode position of the unreduced prompt");
        var result = pipeline.Generate(inputs, new GenerationOptions { MaxNewTokens = 2, SuppressTokens = [Eos] }, plan);
        Assert.That(result.Stats.VisualTokensIn, Is.EqualTo(12));

        // VScan has its Qwen rule (Qwen25VlVScanTests); VisionZip, SCOPE, HoloV, VisPruner and HiPrune their received-attention
        // adaptations (Qwen25VlEncoderBaselineTests).
    }

    /// <summary>The pre-LLM methods that read only the merged tokens, the grid or the instruction run on Qwen's merged
    /// grid: each image keeps its budget (Downsample: the pooled grid nearest it) and every output row is finite.</summary>
    [TestCase("CDPruner", 6)]
    public void TokenOnlyPreLlmMethodsRunOnTheMergedGrid(string method, int keep)
    {
        using var fixture = Qwen25VlFixture.Open();
        var (pipeline, reference, inputs) = fixture;
        using var _ = no_grad();
        var plan = PruningConfig.Parse($$"""{ "Method": "{{method}}", "PreLlmKeep": {{keep}} }""", "test", pipeline.Profile);
        var reduced = pipeline.BuildSequence(inputs, plan.PreLlm);
        using var sequence = reduced.Sequence;
        TestContext.Out.WriteLine($"{method}: {string.Join(", ", sequence.VisualSpans.Select(s => s.Length))} visual tokens per image");
        Assert.That(sequence.VisualSpans.Select(s => s.Length), Is.All.EqualTo((long)keep), "per image");
        Assert.That(sequence.Embeddings.isfinite().all().item<bool>());
    }

    /// <summary>Downsample's pooled rows stand for no single token, so they have no original M-RoPE position: refused with
    /// the reason, never given made-up positions.</summary>
    [Test]
    public void DownsampleIsRefusedForWantOfOriginalPositions()
    {
        using var fixture = Qwen25VlFixture.Open();
        var (pipeline, reference, inputs) = fixture;
        using var _ = no_grad();
        var plan = PruningConfig.Parse("""{ "Method": "Downsample", "PreLlmKeep": 4 }""", "test", pipeline.Profile);
        var e = Assert.Throws<NotSupportedException>(() => pipeline.BuildSequence(inputs, plan.PreLlm));
        Assert.That(e!.Message, Does.Contain("M-RoPE position"));
    }
}
