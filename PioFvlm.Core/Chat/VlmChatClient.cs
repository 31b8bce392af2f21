using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.AI;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Models;
using PioFvlm.Core.Pruning;

namespace PioFvlm.Core.Chat;

/// <summary>
/// <see cref="IChatClient"/> over a loaded model of any family (greedy decoding). A request's user messages become the
/// family's prompt (<see cref="ChatPrompt"/>); <see cref="ChatOptions.MaxOutputTokens"/> and
/// <see cref="ChatOptions.StopSequences"/> are honoured (the stop text is not returned); the pruning comes from the
/// call (<see cref="VlmChatOptions"/>) or the client (<see cref="VlmChatClientOptions"/>). Usage: <see cref="ChatUsage"/>;
/// the full <see cref="GenerationStats"/> is in the response's AdditionalProperties under <see cref="StatsKey"/>.
/// Cancellation is checked before the vision stage, before the prefill and between decode steps. Several calls may run
/// at once. The client does not own the model: dispose the model yourself.
/// </summary>
public sealed class VlmChatClient : IChatClient
{
    /// <summary>Key of the <see cref="GenerationStats"/> in <see cref="ChatResponse.AdditionalProperties"/> (and in the
    /// last streaming update's).</summary>
    public const string StatsKey = "PioFvlm.GenerationStats";

    readonly IVisionLanguageModel _model;
    readonly VlmChatClientOptions _options;
    readonly ChatClientMetadata _metadata;

    public VlmChatClient(IVisionLanguageModel model, VlmChatClientOptions? options = null)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _options = options ?? new VlmChatClientOptions();
        if (_options.Pruning != null && _options.Preset != null)
            throw new ArgumentException($"VlmChatClientOptions gives both a pruning plan ('{_options.Pruning.Name}') and a preset ('{_options.Preset}'); give one");
        if (_options.DefaultMaxOutputTokens < 1)
            throw new ArgumentOutOfRangeException(nameof(options), $"DefaultMaxOutputTokens must be at least 1, got {_options.DefaultMaxOutputTokens}");
        if (_options.Preset != null) PresetPlan(_options.Preset);     // an unknown preset fails here, not at the first call
        _metadata = new ChatClientMetadata("PioFvlm", defaultModelId: _options.ModelId ?? model.Profile.Description);
    }

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
                                               CancellationToken cancellationToken = default)
    {
        var request = Request.Create(this, messages, options);
        return Task.Run(() =>
        {
            var result = Run(request, onToken: null, cancellationToken);
            string text = CutAtStop(result.Text, request.Stops);
            var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, text))
            {
                ModelId = _metadata.DefaultModelId,
                FinishReason = FinishReason(result, request),
                Usage = ChatUsage.From(result.Stats),
                CreatedAt = DateTimeOffset.UtcNow,
                AdditionalProperties = new() { [StatsKey] = result.Stats },
            };
            return response;
        }, cancellationToken);
    }

    /// <summary>One update per decoded piece of text, in order, as the decoder produces it (text that could be the start
    /// of a stop sequence is held back until it is known not to be); then a last update with the finish reason and usage.</summary>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = Request.Create(this, messages, options);
        var pieces = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var stopFilter = new StopFilter(request.Stops);
        string responseId = Guid.NewGuid().ToString("N");
        var generation = Task.Run(() =>
        {
            try
            {
                var r = Run(request, (_, piece) => { if (stopFilter.Push(piece) is { Length: > 0 } ready) pieces.Writer.TryWrite(ready); },
                            cancellationToken);
                if (stopFilter.Flush() is { Length: > 0 } rest) pieces.Writer.TryWrite(rest);
                return r;
            }
            finally { pieces.Writer.TryComplete(); }
        }, cancellationToken);

        bool first = true;
        await foreach (var piece in pieces.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            // The consumer's cancellation ends the stream at once, even when the decoder has already run ahead of it
            // (the generation itself stops at its next check between decode steps).
            cancellationToken.ThrowIfCancellationRequested();
            // DecodeText trims the answer; the stream does the same at its start so both give the same text
            string text = first ? piece.TrimStart() : piece;
            if (text.Length == 0) continue;
            first = false;
            yield return new ChatResponseUpdate(ChatRole.Assistant, text) { ResponseId = responseId, ModelId = _metadata.DefaultModelId };
        }
        var result = await generation.ConfigureAwait(false);    // rethrows the generation's exception (cancellation included)
        yield return new ChatResponseUpdate
        {
            Role = ChatRole.Assistant,
            ResponseId = responseId,
            ModelId = _metadata.DefaultModelId,
            FinishReason = FinishReason(result, request),
            Contents = [new UsageContent(ChatUsage.From(result.Stats))],
            AdditionalProperties = new() { [StatsKey] = result.Stats },
        };
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey != null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        if (serviceType.IsInstanceOfType(_model)) return _model;
        if (serviceType.IsInstanceOfType(this)) return this;
        return null;
    }

    /// <summary>Nothing to release: the model belongs to the caller.</summary>
    public void Dispose() { }

    GenerationResult Run(Request request, Action<int, string>? onToken, CancellationToken cancellationToken)
    {
        var generation = new GenerationOptions
        {
            MaxNewTokens = request.MaxNewTokens,
            StopSequences = request.Stops,
            OnToken = onToken,
            Cancellation = cancellationToken,
        };
        cancellationToken.ThrowIfCancellationRequested();
        using var inputs = _model.Prepare(_model.FormatPrompt(request.Prompt.Question, request.Prompt.Images.Count),
                                          request.Prompt.Images, request.MaxNewTokens);
        return _model.Generate(inputs, generation, request.Plan);
    }

    PruningPlan PresetPlan(string preset) =>
        PioFvlmMethod.Create(new PioFvlmOptions { Schedule = _model.Profile.Preset(preset).ToSchedule(), Saliency = _model.Profile.Saliency });

    ChatFinishReason FinishReason(GenerationResult result, Request request) =>
        result.TokenIds.Count >= request.MaxNewTokens && !_model.EosIds.Contains(result.TokenIds[^1])
        && !request.Stops.Any(s => result.Text.Contains(s, StringComparison.Ordinal))
            ? ChatFinishReason.Length : ChatFinishReason.Stop;

    static string CutAtStop(string text, IReadOnlyList<string> stops)
    {
        int cut = stops.Select(s => text.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
        return cut >= 0 ? text[..cut].TrimEnd() : text;
    }

    /// <summary>What one call asks for, checked before any work starts.</summary>
    sealed record Request(ChatPrompt Prompt, int MaxNewTokens, IReadOnlyList<string> Stops, PruningPlan Plan)
    {
        public static Request Create(VlmChatClient client, IEnumerable<ChatMessage> messages, ChatOptions? options)
        {
            var prompt = ChatPrompt.From(messages, client._model.Profile.MaxImages, client._model.Profile.Family);
            int max = options?.MaxOutputTokens ?? client._options.DefaultMaxOutputTokens;
            if (max < 1) throw new ArgumentOutOfRangeException(nameof(options), $"ChatOptions.MaxOutputTokens must be at least 1, got {max}");
            var stops = options?.StopSequences?.Where(s => !string.IsNullOrEmpty(s)).ToList() ?? [];
            var (plan, preset) = VlmChatOptions.PruningOf(options);
            plan ??= preset != null ? client.PresetPlan(preset)
                : client._options.Pruning ?? (client._options.Preset != null ? client.PresetPlan(client._options.Preset) : PruningPlan.None);
            return new Request(prompt, max, stops, plan);
        }
    }
}
