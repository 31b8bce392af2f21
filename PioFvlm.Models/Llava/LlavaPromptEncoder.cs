using PioFvlm.Core.Text;

namespace PioFvlm.Models.Llava;

/// <summary>Prompt ids with one image id per image placeholder, and where those ids are.</summary>
public sealed record LlavaEncodedPrompt(IReadOnlyList<int> InputIds, IReadOnlyList<int> ImagePositions)
{
    public int ImageCount => ImagePositions.Count;
}

/// <summary>
/// Encodes a LLaVA prompt the way both HF and the research code do (spec llava.md §7.2): the text is split on the
/// image placeholder (and on the EOS string, which multi-turn research prompts contain as the "&lt;/s&gt;" separator);
/// every text chunk is encoded on its own, with the tokenizer's dummy prefix and no BOS; the result is
/// [BOS] + chunk0 + IMG + chunk1 + IMG + …, BOS once even when the prompt starts with an image (and none when the
/// tokenizer has no BOS). Each placeholder gives
/// exactly one <see cref="ImageTokenId"/>: expanding it to the image's N visual tokens is the model's job.
/// </summary>
public sealed class LlavaPromptEncoder
{
    /// <summary>The research code's IMAGE_TOKEN_INDEX: never embedded, replaced by image features.</summary>
    public const int ResearchImageTokenId = -200;

    readonly ITokenizer _tokenizer;
    readonly string _placeholder;
    readonly string? _eosText;

    public int ImageTokenId { get; }

    public LlavaPromptEncoder(ITokenizer tokenizer, int imageTokenId, string imagePlaceholder = LlavaPromptFormat.ImagePlaceholder)
    {
        ArgumentException.ThrowIfNullOrEmpty(imagePlaceholder);
        _tokenizer = tokenizer;
        _placeholder = imagePlaceholder;
        _eosText = tokenizer.IdToToken(tokenizer.EosId);
        ImageTokenId = imageTokenId;
    }

    /// <summary>HF llava checkpoints: the image id is the tokenizer's own id for "&lt;image&gt;" (32000 for llava-hf).</summary>
    public static LlavaPromptEncoder ForHf(ITokenizer tokenizer, string imagePlaceholder = LlavaPromptFormat.ImagePlaceholder) =>
        new(tokenizer, tokenizer.TokenToId(imagePlaceholder)
            ?? throw new ArgumentException($"The tokenizer has no '{imagePlaceholder}' token; HF llava tokenizers add it (id 32000 for LLaVA-1.5)", nameof(tokenizer)),
            imagePlaceholder);

    /// <summary>Research checkpoints: the image id is <see cref="ResearchImageTokenId"/> (−200).</summary>
    public static LlavaPromptEncoder ForResearch(ITokenizer tokenizer) => new(tokenizer, ResearchImageTokenId);

    public LlavaEncodedPrompt Encode(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var ids = new List<int>();
        if (_tokenizer.BosId is int bos) ids.Add(bos);
        var positions = new List<int>();
        string[] chunks = prompt.Split(_placeholder);
        for (int i = 0; i < chunks.Length; i++)
        {
            if (i > 0)
            {
                positions.Add(ids.Count);
                ids.Add(ImageTokenId);
            }
            AppendText(chunks[i], ids);
        }
        return new LlavaEncodedPrompt(ids, positions);
    }

    void AppendText(string chunk, List<int> ids)
    {
        string[] parts = _eosText == null ? [chunk] : chunk.Split(_eosText);
        for (int j = 0; j < parts.Length; j++)
        {
            if (j > 0) ids.Add(_tokenizer.EosId);
            if (parts[j].Length > 0) ids.AddRange(_tokenizer.Encode(parts[j], addBos: false));
        }
    }
}
