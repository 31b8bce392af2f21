using PioFvlm.Core.Nn;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

[NonParallelizable]
public sealed class LlamaMemoryTests
{
    [Test]
    public void CachedPrefillAndDecode_DoNotGrowLiveTensors()
    {
        using var ng = no_grad();
        using var lm = TinyLlama.Create(TinyLlama.Gqa);
        using var ids = randint(0, 64, [1, 6]);
        using var cache = KvCache.For(lm.Dims, 1, 16, ScalarType.Float32);
        NativeMemory.AssertNoGrowth(() =>
        {
            using var scope = NewDisposeScope();
            cache.Reset();
            var next = lm.Step(ids, 0, cache).argmax(-1);
            for (long pos = 6; pos < 9; pos++)
                next = lm.Step(next, pos, cache).argmax(-1);
            cache.Gather(1, arange(0L, 5L));
        }, repeats: 3, what: "prefill + 3 decode steps + gather");
    }
}
