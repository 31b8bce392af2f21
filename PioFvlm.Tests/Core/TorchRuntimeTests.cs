using PioFvlm.Core.Runtime;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Core;

public class TorchRuntimeTests
{
    [Test]
    public void LibtorchLoadsAndComputesAttentionWithGradients()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var q = randn(1, 2, 5, 8).requires_grad_();
        var k = randn(1, 2, 5, 8);
        var v = randn(1, 2, 5, 8);
        var y = nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true);
        y.sum().backward();
        Assert.That(q.grad, Is.Not.Null);
        Assert.That(q.grad!.shape, Is.EqualTo(new long[] { 1, 2, 5, 8 }));
    }
}

public class TorchRuntimeDiagnosisTests
{
    [Test]
    public void DiagnosisNamesTheWrapperLibraryAndKeepsTheUnderlyingError()
    {
        string message = TorchRuntime.Diagnose(new DllNotFoundException("libLibTorchSharp.so: cannot open shared object file"));
        Assert.That(message, Does.StartWith("libtorch could not be loaded by TorchSharp."));
        Assert.That(message, Does.Contain("Underlying error: libLibTorchSharp.so: cannot open shared object file"));
        if (OperatingSystem.IsLinux())
            Assert.That(message, Does.Contain("libLibTorchSharp.so"), "on Linux the diagnosis names the wrapper it inspected");
    }
}
