using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using PioFvlm.Core.Runtime;
using PioFvlm.Core.Vision;

namespace PioFvlm.Bench.Micro;

/// <summary>
/// CLIP image preprocessing of one 640×480 RGB image with LLaVA-1.5's 336 settings (<see cref="ClipImageProcessor"/>:
/// Pillow-exact bicubic resize of the shortest edge to 336, centre crop 336×336, rescale and normalise into a
/// [1, 3, 336, 336] float32 tensor). The image (random pixels) is built once.
/// </summary>
[BenchmarkCategory("micro", "vision")]
[SimpleJob(RunStrategy.Throughput, warmupCount: 1, iterationCount: 5)]
public class ClipPreprocessBenchmark
{
    readonly ClipImageProcessor _processor = new(new ClipImageProcessorOptions());
    RgbImage _image = null!;

    [GlobalSetup]
    public void Setup()
    {
        TorchRuntime.EnsureLoaded();
        var pixels = new byte[640 * 480 * 3];
        new Random(5).NextBytes(pixels);
        _image = new RgbImage(640, 480, pixels);
    }

    [Benchmark(Description = "640×480 → [1, 3, 336, 336]")]
    public void Preprocess() => _processor.Preprocess(_image).Dispose();
}
