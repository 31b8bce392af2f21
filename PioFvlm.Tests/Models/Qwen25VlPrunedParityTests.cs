using PioFvlm.Core.Generation;
using PioFvlm.Core.Models;
using PioFvlm.Core.Pruning;
using PioFvlm.Models;
using PioFvlm.Models.Qwen25Vl;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>
/// Pruned positions against transformers (fixture qwen25vl/reference_pruned_every3.safetensors, scripts/hf_parity):
/// transformers ran its text model on every text token and every 3rd visual token of each image only, each with its
/// ORIGINAL get_rope_index (t, h, w) passed explicitly, and decoded 4 tokens by hand through a cache at
/// max(original positions) + 1 onwards. Ours: a forced pre-LLM selection of the same tokens through the pipeline.
/// </summary>
public class Qwen25VlPrunedParityTests
{
    const int Eos = 255;
    const double LogitsAtol = 1e-4;

    /// <summary>Keeps fixed rows of each image (the fixture's choice), in order.</summary>
    sealed class ForcedPreLlmReducer(IReadOnlyList<long[]> keptPerImage) : IPreLlmReducer
    {
        public VisionSignalRequest Signals => VisionSignalRequest.None;

        public PreLlmReduction Reduce(VisionStageContext context)
        {
            var kept = keptPerImage[context.ImageIndex];
            return new PreLlmReduction(context.Features.index_select(0, tensor(kept, device: context.Features.device)), kept);
        }
    }

    /// <summary>Per image, the indices (within the image's tokens) of the kept columns, read from the fixture alone.</summary>
    static List<long[]> KeptPerImage(IReadOnlyList<int> ids, IReadOnlySet<long> keptColumns, int imageToken)
    {
        var perImage = new List<long[]>();
        for (int col = 0; col < ids.Count;)
        {
            if (ids[col] != imageToken) { col++; continue; }
            var kept = new List<long>();
            for (long j = 0; col < ids.Count && ids[col] == imageToken; col++, j++)
                if (keptColumns.Contains(col)) kept.Add(j);
            perImage.Add([.. kept]);
        }
        return perImage;
    }

    [Test]
    public void ForcedSelectionWithOriginalPositionsMatchesTransformers()
    {
        using var pipeline = (Qwen25VlPipeline)VlmLoader.FromPretrained(HfFixtures.Dir("qwen25vl"), new PioFvlm.Models.LoadOptions { RequireTokenizer = false });
        using var reference = HfFixtures.Open("qwen25vl", "reference.safetensors");
        using var pruned = HfFixtures.Open("qwen25vl", "reference_pruned_every3.safetensors");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var ids = HfFixtures.Ids(reference.Load("input_ids", ScalarType.Int64));
        Assert.That(HfFixtures.Ids(pruned.Load("input_ids", ScalarType.Int64)), Is.EqualTo(ids), "both files hold the same prompt");
        var keptColumns = pruned.Load("kept_columns", ScalarType.Int64).data<long>().ToHashSet();
        var perImage = KeptPerImage(ids, keptColumns, pipeline.Config.ImageTokenId);
        Assert.That(perImage.Select(k => k.Length), Is.EqualTo(new[] { 12, 6 }), "every 3rd of 35 and of 16 visual tokens");
        using var inputs = new VlmInputs(ids, reference.Load("pixel_values"), 2, imageGridThw: reference.Load("image_grid_thw", ScalarType.Int64));

        var vision = pipeline.BuildSequence(inputs, new ForcedPreLlmReducer(perImage));
        using var sequence = vision.Sequence;
        var expectedPositions = pruned.Load("kept_position_ids", ScalarType.Int64)[.., 0];
        TensorAssert.Equal(sequence.PositionIds, expectedPositions, "kept tokens' (t, h, w) = their original get_rope_index rows");
        long decodeStart = pruned.Load("decode_position_start", ScalarType.Int64).item<long>();
        Assert.That(sequence.NextPosition, Is.EqualTo(decodeStart), "decoding continues at max(original positions) + 1");
        TensorAssert.CloseReported(sequence.Embeddings, pruned.Load("kept_inputs_embeds"), 1e-5, 0, "kept inputs_embeds");

        var lm = pipeline.Model.LanguageModel;
        var hidden = lm.RunLayers(sequence.Embeddings, sequence.PositionIds, null, 0, lm.LayerCount);
        TensorAssert.CloseReported(lm.Logits(hidden), pruned.Load("logits"), LogitsAtol, 0, "prefill logits of the kept tokens");

        var expected = HfFixtures.Ids(pruned.Load("gen_tokens", ScalarType.Int64));
        var (tokens, stepLogits) = QwenFixture.Greedy(lm, sequence, [Eos], expected.Count);
        TensorAssert.CloseReported(stepLogits, pruned.Load("gen_step_logits")[0], LogitsAtol, 0, "decode step logits");
        TestContext.Out.WriteLine($"greedy tokens: ours [{string.Join(", ", tokens)}], HF [{string.Join(", ", expected)}]");
        Assert.That(tokens, Is.EqualTo(expected), "greedy tokens (DecoderRunner)");

        // The same through the public generation loop with the reducer as a plan.
        var plan = new PruningPlan("forced-every3", new ForcedPreLlmReducer(perImage), null);
        var result = pipeline.Generate(inputs, new GenerationOptions { MaxNewTokens = expected.Count, SuppressTokens = [Eos] }, plan);
        Assert.That(result.TokenIds, Is.EqualTo(expected), "greedy tokens (Generate)");
        Assert.That(result.Stats.VisualTokensIn, Is.EqualTo(18));
    }
}
