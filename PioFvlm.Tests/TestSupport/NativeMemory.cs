using TorchSharp;

namespace PioFvlm.Tests.TestSupport;

/// <summary>Native-leak assertion built on TorchSharp's dispose-scope statistics (thread-local live counts).</summary>
public static class NativeMemory
{
    /// <summary>Live tensors on this thread (created and not yet disposed).</summary>
    public static long LiveTensors => DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;

    /// <summary>
    /// Runs <paramref name="action"/> once to warm up, then <paramref name="repeats"/> more times, and asserts the
    /// live tensor count after each repeat equals the count after the warm-up.
    /// </summary>
    public static void AssertNoGrowth(Action action, int repeats = 3, string what = "action")
    {
        action();
        GC.Collect();
        long baseline = LiveTensors;
        for (int i = 0; i < repeats; i++)
        {
            action();
            long now = LiveTensors;
            Assert.That(now, Is.EqualTo(baseline), $"{what}: live tensor count grew from {baseline} to {now} on repeat {i + 1}");
        }
    }
}
