using PioFvlm.Models.Configs;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Configs;

public class MemoryGuardTests
{
    [Test]
    public void AbsurdRequest_IsRefusedWithClearMessage()
    {
        const long exabyte = 1_000_000_000_000_000_000L;
        var e = Assert.Throws<InsufficientMemoryException>(() => MemoryGuard.EnsureFits(exabyte, "A test model in Float32", "use --dtype BFloat16"))!;
        Assert.That(e.Message, Does.StartWith("A test model in Float32 needs ~1000000000.0 GB; this machine has "));
        Assert.That(e.Message, Does.Contain("GB available").And.EndWith("use --dtype BFloat16"));
    }

    [Test]
    public void Margin_IsApplied()
    {
        // 10 GB needs 11 GB with the default 10% margin.
        Assert.DoesNotThrow(() => MemoryGuard.EnsureFits(10_000_000_000, "x", availableBytes: 11_000_000_000));
        var e = Assert.Throws<InsufficientMemoryException>(() => MemoryGuard.EnsureFits(10_000_000_000, "x", availableBytes: 10_500_000_000))!;
        Assert.That(e.Message, Does.Contain("needs ~10.0 GB; this machine has 10.5 GB available"));
    }

    [Test]
    public void AvailableBytes_IsPositiveAndBelowTotalMemory()
    {
        var available = MemoryGuard.AvailableBytes();
        Assert.That(available, Is.GreaterThan(0));
        Assert.That(available, Is.LessThanOrEqualTo(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes + (1L << 30)));
        Assert.DoesNotThrow(() => MemoryGuard.EnsureFits(1 << 20, "one megabyte"));
    }

    [Test]
    public void WeightsInFloat32_SuggestBFloat16WithItsSize()
    {
        var size = ModelSizeEstimator.Estimate(HfConfigLoader.Load(ConfigFiles.File(ConfigFiles.Llava15Hf)));
        // Pretend the weights are 10^8 times larger so no machine can hold them.
        var huge = size with { TextLayers = size.TextLayers * 100_000_000L };
        var e = Assert.Throws<InsufficientMemoryException>(() => MemoryGuard.EnsureWeightsFit(huge, ScalarType.Float32, "LLaVA-1.5-7B"))!;
        Assert.That(e.Message, Does.StartWith("LLaVA-1.5-7B in Float32 needs ~"));
        Assert.That(e.Message, Does.Contain("use --dtype BFloat16"));
    }
}
