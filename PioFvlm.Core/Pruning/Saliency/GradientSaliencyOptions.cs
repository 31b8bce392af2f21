namespace PioFvlm.Core.Pruning.Saliency;

/// <summary>Options of <see cref="GradientSaliency"/>. The defaults are the LLaVA reference (spec pio-fvlm.md §2).</summary>
public sealed record GradientSaliencyOptions
{
    /// <summary>Probe layer = layers[r + offset] where r = layers already run. 0: the next layer (LLaVA reference);
    /// −1: the layer that just produced the hidden states, run again (Qwen reference, spec §8).</summary>
    public int ProbeLayerOffset { get; init; }

    /// <summary>Output head of the probe.</summary>
    public ProbeHead Head { get; init; } = ProbeHead.FinalNormLmHead;

    /// <summary>Supervised positions.</summary>
    public SupervisionWindow Window { get; init; } = SupervisionWindow.Reference;

    /// <summary>K_pos: how many positions the window holds before clamping (4, hard-coded in the reference).</summary>
    public int WindowSize { get; init; } = 4;

    /// <summary>
    /// For fp16/bf16 models: run the whole probe in fp32 instead of the model dtype. X is the hidden state cast to fp32,
    /// the probe layer's and head's weights are cast to fp32 for the call (a temporary copy: about 4 bytes per weight of
    /// one layer plus the head), norms compute in fp32, so the gradient and the saliency norm are fp32 and do not
    /// underflow or tie the way fp16/bf16 gradients do (spec §3.4). No effect on fp32/fp64 models. Off: the gradient
    /// has the model dtype and the norm is taken in it, as the reference does.
    /// </summary>
    public bool Fp32Gradient { get; init; }

    /// <summary>Cheap (default, exact) or Full.</summary>
    public ProbeImplementation Probe { get; init; } = ProbeImplementation.Cheap;

    /// <summary>The LLaVA reference: next layer, final norm + LM head, S−5..S−2.</summary>
    public static GradientSaliencyOptions Llava => new();

    /// <summary>The Qwen2.5-VL reference: the layer just run again, final norm + input embeddings as the head.</summary>
    public static GradientSaliencyOptions QwenReference => new() { ProbeLayerOffset = -1, Head = ProbeHead.InputEmbeddings };

    /// <summary>Throws naming the bad value.</summary>
    public GradientSaliencyOptions Validate()
    {
        if (WindowSize < 1)
            throw new ArgumentException($"GradientSaliencyOptions.WindowSize must be at least 1, got {WindowSize}");
        if (!Enum.IsDefined(Head)) throw new ArgumentException($"GradientSaliencyOptions.Head: unknown value {Head}");
        if (!Enum.IsDefined(Window)) throw new ArgumentException($"GradientSaliencyOptions.Window: unknown value {Window}");
        if (!Enum.IsDefined(Probe)) throw new ArgumentException($"GradientSaliencyOptions.Probe: unknown value {Probe}");
        return this;
    }
}
