using PioFvlm.Core.Generation;
using PioFvlm.Core.IO;
using PioFvlm.Core.Models;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.PreLlm;
using PioFvlm.Core.Text;
using PioFvlm.Models;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;
using PioFvlm.Models.Qwen25Vl;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>
/// VScan's encoder stage on Qwen2.5-VL (specs/pio-fvlm.md §6.2): the window-quota selection by hand and against a
/// literal re-implementation of the reference loop, the received-attention side computation against a brute-force
/// N × N softmax built in the original patch order from the block's weights, the stage end to end on the HF fixture,
/// and the reference's pio-ve-11 preset through Generate.
/// </summary>
public class Qwen25VlVScanTests
{
    const int Eos = 255;

    /// <summary>8 × 8 tokens, windows of 4: 4 windows; budget 10 → 5 local at most ⌈5/4⌉ = 2 per window, 5 global.</summary>
    [Test]
    public void WindowQuotaSelectionByHand()
    {
        var local = new float[64];
        local[0] = 10; local[1] = 9; local[8] = 8;    // window 0 three times: the third (8) is over the quota of 2
        local[4] = 7;                                  // window 1
        local[36] = 6; local[63] = 5;                  // window 3 twice
        local[32] = 1;                                 // window 2: never reached, 5 are taken first
        var global = new float[64];
        global[8] = 100; global[0] = 99; global[2] = 50; global[3] = 40; global[5] = 30; global[6] = 20; global[7] = 10;
        var s = VScanEncoderStage.SelectByReceivedAttention(local, global, 8, 8, 10);
        Assert.That(s.Local, Is.EqualTo(new long[] { 0, 1, 4, 36, 63 }), "accepted in descending order, 8 skipped (window 0 full)");
        Assert.That(s.Global, Is.EqualTo(new long[] { 8, 2, 3, 5, 6 }), "0 is local already");
        Assert.That(s.Kept, Is.EqualTo(new long[] { 0, 1, 2, 3, 4, 5, 6, 8, 36, 63 }));
    }

    /// <summary>9 × 9 tokens: ⌊9/4⌋ = 2 windows per side, row and column 8 fold into the last ones, so (8, 8) and
    /// (4, 4) share window 3; budget 4 → 2 local at most 1 per window.</summary>
    [Test]
    public void LeftoverRowsAndColumnsFoldIntoTheLastWindow()
    {
        var local = new float[81];
        local[80] = 10; local[40] = 9; local[0] = 8;
        var global = new float[81];
        global[80] = 7; global[40] = 5; global[1] = 3;
        var s = VScanEncoderStage.SelectByReceivedAttention(local, global, 9, 9, 4);
        Assert.That(s.Local, Is.EqualTo(new long[] { 80, 0 }), "40 shares (8, 8)'s window");
        Assert.That(s.Global, Is.EqualTo(new long[] { 40, 1 }));
        // A side shorter than one window gives one window along it (the reference would divide by zero windows).
        var small = VScanEncoderStage.SelectByReceivedAttention([3f, 2f, 1f], [0f, 0f, 5f], 1, 3, 2);
        Assert.That(small.Local, Is.EqualTo(new long[] { 0 }));
        Assert.That(small.Kept, Is.EqualTo(new long[] { 0, 2 }));
    }

    /// <summary>Random scores, many grids and budgets: the selection equals a literal transcription of the reference's
    /// loop (a window counter over the token grid, the window index clamped to the last), and the budget invariants hold.</summary>
    [Test]
    public void SelectionMatchesTheReferenceLoopAndKeepsTheBudget()
    {
        var rng = new Random(7);
        foreach (var (h, w) in new[] { (4, 4), (5, 7), (8, 8), (9, 13), (36, 36), (12, 5) })
        {
            int n = h * w;
            var local = Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble()).ToArray();
            var global = Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble()).ToArray();
            foreach (int budget in new[] { 1, 2, 3, 7, n / 6, n / 3, n - 1, n, n + 5 }.Where(b => b >= 0))
            {
                var s = VScanEncoderStage.SelectByReceivedAttention(local, global, h, w, budget);
                string what = $"{h}×{w}, budget {budget}";
                if (budget >= n)
                {
                    Assert.That(s.Kept, Is.EqualTo(Enumerable.Range(0, n).Select(i => (long)i)), what);
                    continue;
                }
                var expectedLocal = ReferenceWindowSelection(local, budget / 2, h, w, 4);
                Assert.That(s.Local, Is.EqualTo(expectedLocal), what + ": local");
                var rest = Enumerable.Range(0, n).Where(i => !expectedLocal.Contains(i)).ToArray();
                var expectedGlobal = rest.OrderByDescending(i => global[i]).Take(budget - budget / 2).Select(i => (long)i).ToArray();
                Assert.That(s.Global, Is.EqualTo(expectedGlobal), what + ": global");
                Assert.That(s.Kept, Has.Length.EqualTo(budget), what + ": kept count");
                Assert.That(s.Kept, Is.Ordered.Ascending.And.Unique, what);
                Assert.That(s.Local.Intersect(s.Global), Is.Empty, what);
            }
        }
    }

    /// <summary>The reference's window_selection written out: argsort descending, a per-token-grid window counter.</summary>
    static long[] ReferenceWindowSelection(float[] scores, int keep, int h, int w, int window)
    {
        int windowsH = h / window, windowsW = w / window;
        int windows = windowsH * windowsW;
        int limit = (int)Math.Ceiling(keep / (double)windows);
        var counter = new int[h, w];
        var order = Enumerable.Range(0, scores.Length).ToArray();
        Array.Sort(order, (a, b) => scores[b] != scores[a] ? scores[b].CompareTo(scores[a]) : a.CompareTo(b));   // ties: lower index
        var result = new List<long>();
        foreach (int index in order)
        {
            if (result.Count >= keep) break;
            int x = index / w / window, y = index % w / window;
            if (x == windowsH) x = windowsH - 1;
            if (y == windowsW) y = windowsW - 1;
            if (counter[x, y] < limit)
            {
                counter[x, y]++;
                result.Add(index);
            }
        }
        return result.ToArray();
    }



    /// <summary>
    /// The received attention of full-attention blocks 1 and 3 of the fixture tower (two images, 140 + 64 patches,
    /// windows of 2 × 2 merged tokens elsewhere) against a brute-force computation: each block's input put back in the
    /// original patch order, norm1 / qkv / 2-D rotary from the block's weights, the whole softmax(q kᵀ / √d) of each image
    /// in float64, summed over heads, averaged over query rows and over each merged token's 4 patches (patches 4m..4m+3
    /// in merge-block order).
    /// </summary>
    [Test]
    public void ReceivedAttentionMatchesABruteForceSoftmax()
    {
        using var pipeline = Qwen25VlFixture.Load();
        using var reference = HfFixtures.Open("qwen25vl", "reference.safetensors");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var visual = pipeline.Model.Visual;
        var grids = Qwen25VlGrid.FromTensor(reference.Load("image_grid_thw", ScalarType.Int64));
        var inputs = new Dictionary<string, Tensor>();
        var merged = visual.Forward(reference.Load("pixel_values"), grids, [1, 3], out var received,
            (name, t) => inputs[name] = t.clone().DetachFromDisposeScope());
        try
        {
            var layout = visual.Layout(grids);
            var patchOrder = layout.PatchWindowIndex();
            var inverse = new long[patchOrder.Length];
            for (int j = 0; j < patchOrder.Length; j++) inverse[patchOrder[j]] = j;
            var state = pipeline.Model.state_dict();
            int heads = visual.Config.NumHeads, headDim = visual.Config.HiddenSize / heads;
            var rope = Qwen25VlVisionRope.For(layout.PatchRows, layout.PatchColumns, headDim, null, CPU);
            foreach (int block in new[] { 1, 3 })
            {
                var x = inputs[$"vision_block_output_{block - 1}"].index_select(0, tensor(inverse)).to_type(ScalarType.Float64);
                var norm = x * (x.pow(2).mean([-1], keepdim: true) + 1e-6).rsqrt() * state[$"visual.blocks.{block}.norm1.weight"].to_type(ScalarType.Float64);
                var qkv = (matmul(norm, state[$"visual.blocks.{block}.attn.qkv.weight"].to_type(ScalarType.Float64).t())
                           + state[$"visual.blocks.{block}.attn.qkv.bias"].to_type(ScalarType.Float64)).reshape(-1, 3, heads, headDim);
                var q = rope.Apply(qkv.select(1, 0).to_type(ScalarType.Float32)).to_type(ScalarType.Float64);
                var k = rope.Apply(qkv.select(1, 1).to_type(ScalarType.Float32)).to_type(ScalarType.Float64);
                long patchStart = 0, tokenStart = 0;
                foreach (var g in grids)
                {
                    long patches = g.Patches, tokens = g.Tokens(2);
                    var qi = q.narrow(0, patchStart, patches).transpose(0, 1);   // [H, L, d]
                    var ki = k.narrow(0, patchStart, patches).transpose(0, 1);
                    var probabilities = (matmul(qi, ki.transpose(1, 2)) / Math.Sqrt(headDim)).softmax(-1);
                    var perPatch = probabilities.sum([0]).mean([0]);                 // sum over heads, mean over queries
                    var expected = perPatch.reshape(tokens, 4).mean([1]);
                    var actual = received[block].narrow(1, tokenStart, tokens).sum([0]).to_type(ScalarType.Float64);
                    TensorAssert.CloseReported(actual, expected, 1e-6, 1e-5, $"block {block}, image {g}: received attention per merged token");
                    // Each head's query-mean row sums to 1 over the patches, and a token averages 4 of them: Σ over tokens = heads / 4.
                    Assert.That(actual.sum().item<double>(), Is.EqualTo(heads / 4.0).Within(1e-5), "Σ over tokens of the head-summed scores");
                    patchStart += patches;
                    tokenStart += tokens;
                }
            }
            Assert.That(merged.shape[0], Is.EqualTo(51));
            Assert.Throws<ArgumentException>(() => visual.Forward(reference.Load("pixel_values"), grids, [2], out var unused), "block 2 is a window block");
        }
        finally
        {
            foreach (var t in inputs.Values) t.Dispose();
        }
    }

    /// <summary>The stage end to end on the fixture: per image the kept tokens are the selection on the brute-force-checked
    /// received attention of blocks 1 (local) and 3 (global), their rows the merge of the unreduced tokens, and their
    /// positions the original (t, h, w).</summary>
    [Test]
    public void VScanStageOnQwenKeepsTheBudgetMergesAndKeepsOriginalPositions()
    {
        using var fixture = Qwen25VlFixture.Open();
        var (pipeline, reference, inputs) = fixture;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var full = pipeline.BuildSequence(inputs);
        using var fullSequence = full.Sequence;
        var plan = PruningConfig.Parse("""{ "Method": "VScan", "PreLlmKeep": 8 }""", "test", pipeline.Profile);
        var reduced = pipeline.BuildSequence(inputs, plan.PreLlm);
        using var sequence = reduced.Sequence;
        Assert.That(sequence.VisualSpans.Select(s => s.Length), Is.EqualTo(new long[] { 8, 8 }), "8 per image");

        var grids = Qwen25VlGrid.FromTensor(inputs.ImageGridThw!);
        var tokens = pipeline.Model.Visual.Forward(inputs.PixelValues!, grids, [1, 3], out var received);
        long offset = 0;
        for (int img = 0; img < 2; img++)
        {
            var g = grids[img];
            long n = g.Tokens(2);
            float[] Scores(int block) => received[block].narrow(1, offset, n).sum([0]).data<float>().ToArray();
            var kept = VScanEncoderStage.SelectByReceivedAttention(Scores(1), Scores(3), g.H / 2, g.W / 2, 8).Kept;
            Assert.That(sequence.PreLlm!.KeptIndices[img], Is.EqualTo(kept), $"image {img}: kept tokens");
            var span = sequence.VisualSpans[img];
            var expectedRows = TokenMerging.MergeIntoNearest(tokens.narrow(0, offset, n), kept);
            TensorAssert.CloseReported(sequence.Embeddings.select(0, 0).narrow(0, span.Start, span.Length), expectedRows, 1e-6, 1e-5, $"image {img}: merged rows");
            var columns = kept.Select(k => fullSequence.VisualSpans[img].Start + k).ToArray();
            TensorAssert.Equal(sequence.PositionIds.narrow(1, span.Start, span.Length), fullSequence.PositionIds.index_select(1, tensor(columns)),
                $"image {img}: kept tokens keep their (t, h, w)");
            offset += n;
        }
        Assert.That(sequence.NextPosition, Is.EqualTo(fullSequence.PositionIds.max().item<long>() + 1), "decode position of the unreduced prompt");
    }

    /// <summary>The reference's Qwen "w/ VE" preset (encoder keeps int(0.167·N), then int(0.333·) after layer 14) builds
    /// and generates on a 16-layer decoder over the fixture's tower: 35 → 5 and 16 → 2 visual tokens before the LLM.</summary>
    [Test]
    public void PioVe11PresetRunsThroughGenerate()
    {
        var fixture = (Qwen25VlConfig)HfConfigLoader.Load(HfFixtures.Dir("qwen25vl"));
        var config = fixture with { Text = fixture.Text with { NumHiddenLayers = 16 } };
        var model = new Qwen25VlForConditionalGeneration(config);
        TinyLlava.Randomize(model, 3, ScalarType.Float32);
        foreach (var p in model.parameters()) p.requires_grad = false;
        model.eval();
        var tokenizer = new MissingTokenizer(HfFixtures.Dir("qwen25vl"), null, Eos, null, config.Text.VocabSize);
        using var pipeline = new Qwen25VlPipeline(config, model, tokenizer, new Qwen25VlImageProcessor(new Qwen25VlProcessorOptions()));
        using var reference = HfFixtures.Open("qwen25vl", "reference.safetensors");
        using var inputs = Qwen25VlFixture.Inputs(reference);
        var plan = PioFvlmMethod.Create(new PioFvlmOptions { Schedule = pipeline.Profile.Preset("pio-ve-11").ToSchedule() }, pipeline.Profile);
        Assert.That(plan.PreLlm, Is.Not.Null, "pio-ve-11 has an encoder stage");
        var result = pipeline.Generate(inputs, new GenerationOptions { MaxNewTokens = 3, SuppressTokens = [Eos] }, plan);
        TestContext.Out.WriteLine($"pio-ve-11: [{string.Join(", ", result.TokenIds)}], visual {result.Stats.VisualTokensBeforeReduction} → " +
                                  $"{result.Stats.VisualTokensIn} → {result.Stats.VisualTokensOut}");
        Assert.That(result.TokenIds, Has.Count.EqualTo(3));
        Assert.That(result.Stats.VisualTokensBeforeReduction, Is.EqualTo(51));
        Assert.That(result.Stats.VisualTokensIn, Is.EqualTo(5 + 2), "int(0.167·35) + int(0.167·16)");
        Assert.That(result.Stats.VisualTokensOut, Is.LessThan(result.Stats.VisualTokensIn), "PIO prunes after layer 14");
    }
}
