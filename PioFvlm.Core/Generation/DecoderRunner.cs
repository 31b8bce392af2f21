using System.Diagnostics;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Runtime;
using PioFvlm.Core.Text;
using static TorchSharp.torch;

namespace PioFvlm.Core.Generation;

/// <summary>
/// The prefill / decode loop shared by every family: runs the decoder layer ranges between pruning points, calls the
/// intra-LLM pruner there, and places decode tokens per layer according to the position policy. Callers hold
/// <c>torch.no_grad()</c>; everything here runs inside dispose scopes. Per-prefill pruning state (reports, scratch)
/// travels in the <see cref="PrefillState"/> from call to call, so concurrent prefills may share one pruner.
/// </summary>
public static class DecoderRunner
{
    public static PrefillResult Prefill(IDecoderStack decoder, MultimodalSequence sequence, KvCache cache,
                                        IPrefillPruner? pruner = null, PositionPolicy policy = PositionPolicy.Compact)
    {
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        double pruningMs = 0;
        int layers = decoder.LayerCount;
        pruner?.Validate(layers);
        if (policy == PositionPolicy.Compact && pruner != null && sequence.PositionIds.shape[0] > 1)
            throw new NotSupportedException(
                $"PositionPolicy.Compact is not defined for {sequence.PositionIds.shape[0]}-row (M-RoPE) position ids; use KeepOriginal");
        var tokensPerLayer = new long[layers];
        var visualPerLayer = new long[layers];
        var state = new PrefillState(sequence.Embeddings, sequence.PositionIds, sequence.VisualSpans, sequence.TokenIds, 0);
        long visualIn = state.VisualTokenCount;
        if (pruner != null) state = pruner.Begin(state, decoder);
        int from = 0;
        for (int r = 1; r <= layers; r++)
        {
            bool prune = r < layers && pruner != null && pruner.PrunesAfter(r);
            if (!prune && r < layers) continue;
            for (int l = from; l < r; l++) { tokensPerLayer[l] = state.Length; visualPerLayer[l] = state.VisualTokenCount; }
            var hidden = decoder.RunLayers(state.Hidden, state.PositionIds, cache, from, r);
            state = state with { Hidden = hidden, LayersDone = r };
            from = r;
            if (!prune) continue;
            var t0 = clock.Elapsed.TotalMilliseconds;
            var pruned = pruner!.Prune(state, decoder);
            if (!ReferenceEquals(pruned.PositionIds, state.PositionIds) && policy == PositionPolicy.Compact)
                pruned = pruned with { PositionIds = CompactPositions(pruned.PositionIds) };
            state = pruned;
            pruningMs += clock.Elapsed.TotalMilliseconds - t0;
        }
        var logits = decoder.Logits(state.Hidden, lastPositionOnly: true).reshape(-1).to(ScalarType.Float32);
        // KeepOriginal: the next token sits where the unpruned model would put it, after the largest position of the
        // sequence as built (before any intra-LLM pruning); the sequence may name it when a pre-LLM reducer dropped
        // the largest (an image at the very end). Compact decodes at each layer's cache length instead.
        long nextPosition = policy == PositionPolicy.KeepOriginal
            ? sequence.NextPosition ?? sequence.PositionIds.max().item<long>() + 1
            : state.PositionIds.max().item<long>() + 1;
        var decodeState = new DecodeState(policy, (int)state.PositionIds.shape[0], nextPosition);
        double prefillMs = clock.Elapsed.TotalMilliseconds;
        return new PrefillResult
        {
            LastLogits = logits.MoveToOuterDisposeScope(),
            DecodeState = decodeState,
            VisualTokensIn = visualIn,
            VisualTokensOut = state.VisualTokenCount,
            PromptLength = sequence.Length,
            TokensPerLayer = tokensPerLayer,
            VisualTokensPerLayer = visualPerLayer,
            PrefillMs = prefillMs,
            PruningMs = pruningMs,
            Stages = state.Stages,
            PreLlm = sequence.PreLlm,
        };
    }

    /// <summary>One decode step: the token's logits [vocab] (float32). Layers whose caches differ in length (after
    /// pruning with <see cref="PositionPolicy.Compact"/>) get different positions, run as separate layer ranges.
    /// Every product of the step has one row, so it runs inside <see cref="OneRowGemv.Enter"/> (bf16/fp16 weights are
    /// streamed by ATen's gemv instead of being repacked by oneDNN on every call).</summary>
    public static Tensor Step(IDecoderStack decoder, int token, DecodeState state, KvCache cache)
    {
        using var gemv = OneRowGemv.Enter();
        using var scope = NewDisposeScope();
        int layers = decoder.LayerCount;
        var positions = new long[layers];
        for (int l = 0; l < layers; l++) positions[l] = state.PositionFor(l, cache);
        var device = cache.Keys(0).device;
        var h = decoder.Embed(tensor(new long[] { token }, ScalarType.Int64, device).unsqueeze(0));
        int from = 0;
        for (int l = 1; l <= layers; l++)
        {
            if (l < layers && positions[l] == positions[from]) continue;
            h = decoder.RunLayers(h, state.PositionIds(positions[from], device), cache, from, l);
            from = l;
        }
        state.Advance();
        return decoder.Logits(h, lastPositionOnly: true).reshape(-1).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>Greedy decoding after a prefill: argmax (lowest index on ties) until EOS or the token limit.</summary>
    public static (List<int> Tokens, double DecodeMs) Greedy(IDecoderStack decoder, PrefillResult prefill, KvCache cache,
        GenerationOptions options, IReadOnlyCollection<int> eosIds, ITokenizer? tokenizer = null)
    {
        var tokens = new List<int>();
        var clock = Stopwatch.StartNew();
        bool stops = options.StopSequences.Count > 0;
        if (stops && tokenizer == null) throw new ArgumentException("stop sequences need the tokenizer (to decode the answer while it grows)");
        var stream = tokenizer != null && (options.OnToken != null || stops) ? new StreamingDecoder(tokenizer) : null;
        using (var first = prefill.LastLogits.clone())
        {
            var logits = first;
            for (int i = 0; i < options.MaxNewTokens; i++)
            {
                int next = ArgMax(logits, options.SuppressTokens);
                if (i > 0) logits.Dispose();
                tokens.Add(next);
                // Ids past the tokenizer's vocabulary (HF LLaVA pads the LM head to 32064 rows) have no text.
                string piece = stream != null && tokenizer!.IdToToken(next) != null ? stream.Push(next) : "";
                options.OnToken?.Invoke(next, piece);
                if (options.StopAtEos && eosIds.Contains(next)) break;
                if (i + 1 == options.MaxNewTokens) break;
                if (stops && options.StopSequences.Any(s => stream!.Text.Contains(s, StringComparison.Ordinal))) break;
                options.Cancellation.ThrowIfCancellationRequested();
                if (cache.LengthOf(0) >= cache.Capacity)
                    throw new InvalidOperationException(
                        $"the KV cache is full ({cache.Capacity} positions) after {tokens.Count} new tokens; allocate a larger cache");
                logits = Step(decoder, next, prefill.DecodeState, cache);
            }
        }
        return (tokens, clock.Elapsed.TotalMilliseconds);
    }

    static int ArgMax(Tensor logits, IReadOnlyList<int> suppress)
    {
        using var scope = NewDisposeScope();                       // disposes argmax's result too
        if (suppress.Count == 0) return (int)logits.argmax().item<long>();
        // One index_fill for the whole list: per-id indexing costs a native call each (the whole vocabulary in tests).
        var ids = tensor(suppress.Select(id => (long)id).ToArray(), ScalarType.Int64, logits.device);
        return (int)logits.index_fill(0, ids, float.NegativeInfinity).argmax().item<long>();
    }

    static Tensor CompactPositions(Tensor positionIds)
    {
        long rows = positionIds.shape[0], length = positionIds.shape[1];
        return arange(length, dtype: ScalarType.Int64, device: positionIds.device).unsqueeze(0).expand(rows, length).contiguous();
    }
}
