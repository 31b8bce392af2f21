namespace PioFvlm.Models.Llava;

/// <summary>Activation inside the CLIP MLP.</summary>
public enum ClipHiddenAct
{
    /// <summary>t · sigmoid(1.702 t), OpenAI CLIP's and the CLIPVisionConfig default.</summary>
    QuickGelu,

    /// <summary>Exact (erf) GELU.</summary>
    Gelu,
}

/// <summary>Shape of a CLIP vision transformer (CLIPVisionConfig fields the forward pass needs).</summary>
public sealed record ClipVisionDims(
    int Hidden,
    int Intermediate,
    int Layers,
    int Heads,
    int ImageSize,
    int PatchSize,
    int Channels = 3,
    double LayerNormEps = 1e-5,
    ClipHiddenAct HiddenAct = ClipHiddenAct.QuickGelu)
{
    /// <summary>openai/clip-vit-large-patch14-336, the LLaVA-1.5 and LLaVA-NeXT tower.</summary>
    public static ClipVisionDims ClipL14At336 { get; } = new(1024, 4096, 24, 16, 336, 14);

    /// <summary>The tiny fixture tower of llava.md §10.1 (7×7 patches, 3 layers so layer −2 skips one).</summary>
    public static ClipVisionDims Tiny { get; } = new(32, 64, 3, 4, 28, 4);

    public int HeadDim => Hidden / Heads;

    /// <summary>Patches per side.</summary>
    public int GridSize => ImageSize / PatchSize;

    public int NumPatches => GridSize * GridSize;

    /// <summary>Patches plus the CLS token.</summary>
    public int NumPositions => NumPatches + 1;

    /// <summary>Maps config.json's <c>hidden_act</c>.</summary>
    public static ClipHiddenAct ParseHiddenAct(string hiddenAct) => hiddenAct switch
    {
        "quick_gelu" => ClipHiddenAct.QuickGelu,
        "gelu" => ClipHiddenAct.Gelu,
        _ => throw new ArgumentException($"CLIP vision hidden_act '{hiddenAct}' is not supported (quick_gelu or gelu)", nameof(hiddenAct)),
    };

    /// <summary>Throws when the numbers cannot describe a CLIP tower.</summary>
    public ClipVisionDims Validate()
    {
        if (Hidden <= 0 || Intermediate <= 0 || Layers <= 0 || Heads <= 0 || ImageSize <= 0 || PatchSize <= 0 || Channels <= 0)
            throw new ArgumentException($"{this}: all sizes must be positive");
        if (Hidden % Heads != 0)
            throw new ArgumentException($"{this}: hidden {Hidden} is not divisible by heads {Heads}");
        if (ImageSize % PatchSize != 0)
            throw new ArgumentException($"{this}: image size {ImageSize} is not a multiple of patch size {PatchSize}");
        if (!(LayerNormEps > 0))
            throw new ArgumentException($"{this}: layer_norm_eps must be positive");
        return this;
    }
}
