using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Vision;
using static TorchSharp.torch;

namespace PioFvlm.Core.Models;

/// <summary>Greedy generation for every family: the one loop behind the CLI, eval, demo and the library API.</summary>
public static class VlmGeneration
{
    /// <summary>Greedy generation for prepared inputs with a pruning plan (both insertion points and the position policy).</summary>
    public static GenerationResult Generate(this IVisionLanguageModel model, VlmInputs inputs, GenerationOptions? options = null,
                                            PruningPlan? plan = null)
    {
        options ??= new GenerationOptions();
        plan ??= PruningPlan.None;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        options.Cancellation.ThrowIfCancellationRequested();
        var vision = model.BuildSequence(inputs, plan.PreLlm, plan.Scope);
        using var sequence = vision.Sequence;
        using var cache = model.NewCache(sequence.Length + options.MaxNewTokens);
        options.Cancellation.ThrowIfCancellationRequested();
        using var prefill = model.Prefill(sequence, cache, plan.Intra, plan.Positions);
        long kvBytes = cache.BytesInUse;
        var (tokens, decodeMs) = DecoderRunner.Greedy(model.Decoder, prefill, cache, options, model.EosIds, model.Tokenizer);
        var stats = new GenerationStats
        {
            VisualTokensBeforeReduction = vision.VisualTokensFromTower,
            VisualTokensIn = prefill.VisualTokensIn,
            VisualTokensOut = prefill.VisualTokensOut,
            PromptLength = prefill.PromptLength,
            VisionMs = vision.VisionMs,
            PrefillMs = prefill.PrefillMs,
            PruningMs = prefill.PruningMs,
            DecodeMs = decodeMs,
            TokensGenerated = tokens.Count,
            KvCacheBytes = kvBytes,
            VisualTokensPerLayer = prefill.VisualTokensPerLayer,
            Stages = prefill.Stages,
            PreLlm = prefill.PreLlm,
        };
        return new GenerationResult(tokens, model.DecodeText(tokens), stats);
    }

    /// <summary>One call for users: the checkpoint's template around <paramref name="question"/> and one image.</summary>
    public static GenerationResult Generate(this IVisionLanguageModel model, RgbImage image, string question,
                                            GenerationOptions? options = null, PruningPlan? plan = null)
    {
        options ??= new GenerationOptions();
        using var inputs = model.Prepare(model.FormatPrompt(question), [image], options.MaxNewTokens);
        return model.Generate(inputs, options, plan);
    }
}
