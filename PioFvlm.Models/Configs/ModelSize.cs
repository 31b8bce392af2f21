using TorchSharp;

namespace PioFvlm.Models.Configs;

/// <summary>Parameter counts of a model by part, from <see cref="ModelSizeEstimator"/>.</summary>
public sealed record ModelSize
{
    /// <summary>Vision encoder (CLIP tower incl. embeddings and pre/post layer norms, or the Qwen ViT without its
    /// merger). Zero when a research LLaVA config has no tower attached (<see cref="VisionTowerKnown"/> false).</summary>
    public required long VisionTower { get; init; }

    /// <summary>LLaVA's two-layer projector, or Qwen's patch merger (ln_q + two linears).</summary>
    public required long Projector { get; init; }

    public required long TextEmbedding { get; init; }

    /// <summary>All decoder layers (attention, MLP, two RMSNorms each).</summary>
    public required long TextLayers { get; init; }

    public required long TextFinalNorm { get; init; }

    /// <summary>Zero when tied to the embedding.</summary>
    public required long LmHead { get; init; }

    /// <summary>LLaVA-NeXT's <c>image_newline</c>.</summary>
    public long Other { get; init; }

    public bool VisionTowerKnown { get; init; } = true;

    public long Total => VisionTower + Projector + TextEmbedding + TextLayers + TextFinalNorm + LmHead + Other;

    public long Bytes(torch.ScalarType dtype) => checked(Total * BytesPerElement(dtype));

    public static int BytesPerElement(torch.ScalarType dtype) => Core.Runtime.ElementSize.Of(dtype);
}
