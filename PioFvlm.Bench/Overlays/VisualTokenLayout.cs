using PioFvlm.Core.Models;
using PioFvlm.Core.Vision;
using PioFvlm.Models.Llava;

namespace PioFvlm.Bench.Overlays;

/// <summary>
/// Where each visual token of a model's one image lies in the original image, for <see cref="KeptTokenOverlay"/>.
/// LLaVA-1.5 only: its tokens are the ViT patches of one square crop (<see cref="ClipPatchGeometry"/>), with the CLS
/// token first under the "full" feature strategy (it covers no region: an empty rectangle). LLaVA-NeXT (anyres tiles
/// plus a base view, each token a cell of one of several crops) and Qwen2.5-VL (native-resolution grid, 2 × 2 patches
/// merged per token) are refused with a message naming the family.
/// </summary>
public static class VisualTokenLayout
{
    /// <summary>One rectangle per visual token, in the order the model's visual tokens enter the decoder.</summary>
    /// <exception cref="NotSupportedException">The model is not LLaVA-1.5.</exception>
    public static IReadOnlyList<ImageRect> For(IVisionLanguageModel model, RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(image);
        if (model is not LlavaPipeline llava)
            throw new NotSupportedException($"kept-token pictures support LLaVA-1.5 models only; this model is {model.Profile.Family} " +
                                            $"({model.Profile.Description}), whose visual tokens do not form one patch grid over the image");
        var vision = llava.Model.Architecture.Vision;
        var processor = llava.Processor.Options;
        if (processor.CropWidth != vision.ImageSize || processor.CropHeight != vision.ImageSize)
            throw new NotSupportedException($"the processor's {processor.CropWidth}x{processor.CropHeight} crop differs from the vision tower's " +
                                            $"{vision.ImageSize} px input; kept-token pictures need them equal");
        var patches = ClipPatchGeometry.PatchRectangles(processor, vision.PatchSize, image.Width, image.Height);
        return llava.Model.Architecture.Selection.Strategy == ClipFeatureStrategy.Full
            ? [new ImageRect(0, 0, 0, 0), .. patches]
            : patches;
    }
}
