using static TorchSharp.torch;

namespace PioFvlm.Core.Pruning.PreLlm;

/// <summary>Small pieces the CLIP-side baselines (VisionZip, SCOPE, HoloV) share.</summary>
internal static class EncoderSignalMath
{
    /// <summary>Per-head CLS rows [heads, P] reduced over heads to P floats (mean or sum), in float32.</summary>
    public static float[] ReduceHeads(Tensor perHead, bool sum)
    {
        using var _ = NewDisposeScope();
        var f = perHead.to(ScalarType.Float32);
        return (sum ? f.sum([0]) : f.mean([0])).cpu().data<float>().ToArray();
    }

    /// <summary>The <paramref name="k"/> highest-scoring candidates by descending score; equal scores keep the
    /// candidates' order (a stable sort), where torch.topk leaves ties unspecified.</summary>
    public static int[] TopStable(IEnumerable<int> candidates, IReadOnlyList<float> scores, int k) =>
        candidates.OrderByDescending(i => scores[i]).Take(k).ToArray();

    /// <summary>Throws unless the features are the patch tokens of the grid (LLaVA's 'default' strategy, no CLS).</summary>
    public static void CheckPatchFeatures(VisionStageContext context, string method)
    {
        var s = context.Signals;
        if (s.FeaturesIncludeCls)
            throw new NotSupportedException($"{method} works on patch tokens only; image {context.ImageIndex} has CLS among its features (vision_feature_select_strategy 'full')");
        if (context.TokenCount != (long)s.GridHeight * s.GridWidth)
            throw new ArgumentException($"{method}: image {context.ImageIndex} has {context.TokenCount} feature rows for a {s.GridHeight} × {s.GridWidth} patch grid");
    }

    /// <summary>The unreduced features (a budget at or above the token count keeps every token, unchanged).</summary>
    public static PreLlmReduction KeepAll(VisionStageContext context) =>
        new(context.Features.alias(), Enumerable.Range(0, (int)context.TokenCount).Select(i => (long)i).ToArray());
}
