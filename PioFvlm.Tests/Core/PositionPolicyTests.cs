using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Models.Llava;
using PioFvlm.Models.Qwen25Vl;
using PioFvlm.Tests.Models;
using PioFvlm.Tests.Pruning;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Core;

/// <summary>Position policies are resolved per family: re-indexing (Compact) has no meaning for M-RoPE's 3-row ids.</summary>
public class PositionPolicyTests
{
    [Test]
    public void AFamilyResolvesANullPolicyToItsDefaultAndRefusesCompactForThreeRows()
    {
        Assert.That(Llava15Profile.Reference7B.Resolve(null), Is.EqualTo(PositionPolicy.Compact));
        Assert.That(Llava15Profile.Reference7B.Resolve(PositionPolicy.KeepOriginal), Is.EqualTo(PositionPolicy.KeepOriginal));
        Assert.That(Qwen25VlProfile.Reference7B.Resolve(null), Is.EqualTo(PositionPolicy.KeepOriginal));
        var e = Assert.Throws<NotSupportedException>(() => Qwen25VlProfile.Reference7B.Resolve(PositionPolicy.Compact));
        Assert.That(e!.Message, Does.Contain("Compact").And.Contain("3-row"));
    }

    [Test]
    public void ThePrefillLoopRefusesCompactOnThreeRowPositionsWhenAPrunerRuns()
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        var dims = TinyLlama.Gqa with { NumLayers = 2 };
        using var lm = TinyLlama.Create(dims);
        int[] ids = [1, 3, 3, 3, 3, 5];
        var rows = TinyLlama.Positions(0, ids.Length).expand(3, ids.Length).contiguous();
        using var sequence = new MultimodalSequence(lm.Embed(tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0)), rows,
            [new VisualSpan(1, 4, 0)], ids);
        using var cache = KvCache.For(dims, 1, 16, ScalarType.Float32);
        var pruner = new ForcedSelectionPruner(new Dictionary<int, long[]> { [1] = [0, 2] });
        var e = Assert.Throws<NotSupportedException>(() => DecoderRunner.Prefill(lm, sequence, cache, pruner, PositionPolicy.Compact));
        Assert.That(e!.Message, Does.Contain("3-row"));
        Assert.That(cache.Lengths, Is.All.EqualTo(0L), "refused before any layer ran");
    }
}
