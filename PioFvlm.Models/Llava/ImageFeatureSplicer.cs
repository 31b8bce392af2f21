using PioFvlm.Core.Generation;
using PioFvlm.Core.Pruning;
using static TorchSharp.torch;

namespace PioFvlm.Models.Llava;

/// <summary>
/// Places image features into the text sequence. Accepts both prompt styles: one image token per image (research
/// -200 or an unexpanded HF &lt;image&gt;), expanded here to the feature count, or the HF processor's expanded form
/// (N_i consecutive image tokens for image i), checked against the feature counts. Either way the result is the
/// same embedding sequence with contiguous visual spans and positions 0..S-1.
/// </summary>
public static class ImageFeatureSplicer
{
    /// <param name="tokenIds">Prompt ids; image placeholders are <paramref name="imageTokenId"/>.</param>
    /// <param name="imageFeatures">One [N_i, H] block per image, in prompt order.</param>
    /// <param name="embed">Embeds text ids [1, T] to [1, T, H].</param>
    /// <param name="preLlm">What a pre-LLM reducer did to the features, kept with the sequence; null when none ran.</param>
    /// <param name="spanLayouts">Per image, its visual spans relative to its block (LLaVA-NeXT: base view, tile rows,
    /// newline rows outside every span); null = each block is one span.</param>
    public static MultimodalSequence Splice(IReadOnlyList<int> tokenIds, int imageTokenId, IReadOnlyList<Tensor> imageFeatures,
                                            Func<Tensor, Tensor> embed, PreLlmStageReport? preLlm = null,
                                            IReadOnlyList<IReadOnlyList<VisualSpan>>? spanLayouts = null)
    {
        if (spanLayouts is not null && spanLayouts.Count != imageFeatures.Count)
            throw new ArgumentException($"{spanLayouts.Count} span layouts for {imageFeatures.Count} images");
        var slots = ImageSlots(tokenIds, imageTokenId, imageFeatures);
        using var scope = NewDisposeScope();
        var pieces = new List<Tensor>();
        var spans = new List<VisualSpan>();
        var mergedIds = new List<int>(tokenIds.Count);
        int cursor = 0;
        for (int i = 0; i <= slots.Count; i++)
        {
            int textEnd = i < slots.Count ? slots[i].Start : tokenIds.Count;
            if (textEnd > cursor)
            {
                var text = tokenIds.Skip(cursor).Take(textEnd - cursor).ToArray();
                pieces.Add(embed(tensor(text.Select(x => (long)x).ToArray(), ScalarType.Int64).unsqueeze(0)).squeeze(0));
                mergedIds.AddRange(text);
            }
            if (i == slots.Count) break;
            var feats = imageFeatures[i];
            if (feats.dim() != 2)
                throw new ArgumentException($"image {i}: features must be [N, H], got [{string.Join(", ", feats.shape)}]");
            long blockStart = mergedIds.Count;
            if (spanLayouts is null) spans.Add(new VisualSpan(blockStart, feats.shape[0], i));
            else
                foreach (var span in spanLayouts[i])
                {
                    if (span.Start < 0 || span.End > feats.shape[0])
                        throw new ArgumentException($"image {i}: span [{span.Start}, {span.End}) lies outside its {feats.shape[0]} feature rows");
                    spans.Add(span with { Start = blockStart + span.Start, ImageIndex = i });
                }
            mergedIds.AddRange(Enumerable.Repeat(imageTokenId, (int)feats.shape[0]));
            pieces.Add(feats);
            cursor = slots[i].Start + slots[i].Length;
        }
        var dtype = pieces[0].dtype;
        long hidden = pieces[0].shape[1];
        foreach (var p in pieces)
            if (p.shape[1] != hidden)
                throw new ArgumentException($"image features have width {p.shape[1]} but the text embeddings have {hidden}");
        var embeddings = cat(pieces.Select(p => p.to(dtype)).ToArray(), 0).unsqueeze(0);
        var positions = arange(embeddings.shape[1], dtype: ScalarType.Int64, device: embeddings.device).unsqueeze(0);
        return new MultimodalSequence(embeddings.MoveToOuterDisposeScope(), positions.MoveToOuterDisposeScope(), spans, mergedIds, preLlm);
    }

    readonly record struct Slot(int Start, int Length);

    /// <summary>Where each image goes: one token per image, or the expanded N_i tokens per image.</summary>
    static List<Slot> ImageSlots(IReadOnlyList<int> ids, int imageTokenId, IReadOnlyList<Tensor> features)
    {
        var positions = new List<int>();
        for (int i = 0; i < ids.Count; i++) if (ids[i] == imageTokenId) positions.Add(i);
        long expanded = features.Sum(f => f.shape[0]);
        if (positions.Count == features.Count)
            return positions.Select(p => new Slot(p, 1)).ToList();
        if (positions.Count != expanded)
            throw new ArgumentException(
                $"the prompt holds {positions.Count} image tokens (id {imageTokenId}) but {features.Count} image(s) with " +
                $"{expanded} feature rows in all were given: use one placeholder per image, or exactly one token per feature row");
        var slots = new List<Slot>();
        int k = 0;
        for (int img = 0; img < features.Count; img++)
        {
            int n = (int)features[img].shape[0];
            int start = positions[k];
            if (positions[k + n - 1] != start + n - 1)
                throw new ArgumentException($"image {img}: its {n} image tokens are not contiguous in the prompt (first at {start})");
            slots.Add(new Slot(start, n));
            k += n;
        }
        return slots;
    }
}
