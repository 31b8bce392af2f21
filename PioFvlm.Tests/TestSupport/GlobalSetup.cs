using PioFvlm.Core.Runtime;
using static TorchSharp.torch;

namespace PioFvlm.Tests.TestSupport;

/// <summary>Torch global state for the whole test run, set once.</summary>
[SetUpFixture]
public sealed class GlobalSetup
{
    [OneTimeSetUp]
    public void LoadTorch()
    {
        TorchRuntime.EnsureLoaded();
        manual_seed(1234);
        set_num_threads(Math.Max(1, Environment.ProcessorCount));
    }
}
