using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using PioFvlm.Core.IO.Safetensors;
using PioFvlm.Core.Runtime;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Micro;

/// <summary>
/// Safetensors read throughput: open a 256 MiB file (16 fp32 tensors of 16 MiB, written once in setup) and
/// <see cref="SafetensorsFile.Load"/> every tensor. The file was just written, so it is read from the page cache: this
/// is the parse + copy cost, not disk speed (<c>pio-fvlm io-throughput</c> measures cold reads). One operation is one
/// MiB, so Mean is the time per MiB and the MiB/s column its inverse.
/// </summary>
[BenchmarkCategory("micro", "io")]
[SimpleJob(RunStrategy.Throughput, warmupCount: 1, iterationCount: 5)]
[Config(typeof(ThroughputConfig))]
public class SafetensorsReadBenchmark
{
    public const int TensorCount = 16, MiBPerTensor = 16, TotalMiB = TensorCount * MiBPerTensor;

    string _directory = "";
    string _path = "";

    [GlobalSetup]
    public void Setup()
    {
        TorchRuntime.EnsureLoaded();
        _directory = Directory.CreateTempSubdirectory("piofvlm-bench-io-").FullName;
        _path = Path.Combine(_directory, "read.safetensors");
        using var scope = NewDisposeScope();
        long elements = MiBPerTensor * 1024L * 1024 / sizeof(float);
        SafetensorsWriter.Write(_path, Enumerable.Range(0, TensorCount).Select(i => ($"t{i}", rand(elements))).ToList());
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_directory, recursive: true);

    [Benchmark(OperationsPerInvoke = TotalMiB, Description = "Load all tensors (per MiB)")]
    public void LoadAll()
    {
        using var file = new SafetensorsFile(_path);
        for (int i = 0; i < TensorCount; i++) file.Load($"t{i}").Dispose();
    }

    sealed class ThroughputConfig : ManualConfig
    {
        public ThroughputConfig() => AddColumn(new MiBPerSecondColumn());
    }

    /// <summary>MiB/s = 1 s / (mean time per operation), one operation being one MiB.</summary>
    sealed class MiBPerSecondColumn : IColumn
    {
        public string Id => "MiBPerSecond";
        public string ColumnName => "MiB/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Throughput: 1 s / Mean, one operation being one MiB read";
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public bool IsAvailable(Summary summary) => true;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var mean = summary[benchmarkCase]?.ResultStatistics?.Mean;   // nanoseconds per operation
            return mean is > 0 ? (1e9 / mean.Value).ToString("F0", System.Globalization.CultureInfo.InvariantCulture) : "n/a";
        }
    }
}
