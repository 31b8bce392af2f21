namespace PioFvlm.Core.Generation;

/// <summary>Greedy decoding settings (temperature 0, one beam: what the paper's evaluations use).</summary>
public sealed record GenerationOptions
{
    /// <summary>Most new tokens to produce (the EOS token, when produced, counts).</summary>
    public int MaxNewTokens { get; init; } = 32;

    /// <summary>Stop after the model emits its EOS token.</summary>
    public bool StopAtEos { get; init; } = true;

    /// <summary>Token ids whose logits are set to -inf before argmax (e.g. EOS for reference fixtures).</summary>
    public IReadOnlyList<int> SuppressTokens { get; init; } = Array.Empty<int>();

    /// <summary>Called with each new token id and the text it completes (streaming); may be null.</summary>
    public Action<int, string>? OnToken { get; init; }

    /// <summary>Stop once the decoded answer contains one of these strings (the tokens that complete it are kept in
    /// the result; callers that hide stop text, such as the chat client, cut it off).</summary>
    public IReadOnlyList<string> StopSequences { get; init; } = Array.Empty<string>();

    /// <summary>Checked before the vision stage, before the prefill and between decode steps; a cancelled token ends the
    /// generation with <see cref="OperationCanceledException"/> (native memory is released by the dispose scopes).</summary>
    public CancellationToken Cancellation { get; init; }
}
