using BenchmarkDotNet.Analysers;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Validators;

namespace PioFvlm.Bench.Micro.Infrastructure;

/// <summary>
/// A "Native peak" column: VmHWM reset before each benchmark case (before its global setup) and read after its last
/// iteration, so it holds the case's inputs, model and workspace. Needs the in-process toolchain (the host signals
/// reach this object in the benchmark's own process); without /proc the column is absent.
/// </summary>
public sealed class NativePeakRssDiagnoser : IDiagnoser
{
    readonly Dictionary<BenchmarkCase, long> _peaks = new();

    public IEnumerable<string> Ids => ["NativePeakRss"];
    public IEnumerable<IExporter> Exporters => [];
    public IEnumerable<IAnalyser> Analysers => [];

    public RunMode GetRunMode(BenchmarkCase benchmarkCase) => RunMode.NoOverhead;

    public bool RequiresBlockingAcknowledgments(BenchmarkCase benchmarkCase) => false;

    public void Handle(HostSignal signal, DiagnoserActionParameters parameters)
    {
        if (signal == HostSignal.BeforeAnythingElse) NativePeakRss.Reset();
        else if (signal == HostSignal.AfterAll && NativePeakRss.Bytes() is { } peak) _peaks[parameters.BenchmarkCase] = peak;
    }

    public IEnumerable<Metric> ProcessResults(DiagnoserResults results)
    {
        if (_peaks.TryGetValue(results.BenchmarkCase, out long peak))
            yield return new Metric(Descriptor.Instance, peak);
    }

    public void DisplayResults(ILogger logger) { }

    public IEnumerable<ValidationError> Validate(ValidationParameters validationParameters) => [];

    sealed class Descriptor : IMetricDescriptor
    {
        public static readonly Descriptor Instance = new();
        public string Id => "NativePeakRss";
        public string DisplayName => "Native peak";
        public string Legend => "Peak resident set of the process (VmHWM) during the case, setup included";
        public string NumberFormat => "0.#";
        public UnitType UnitType => UnitType.Size;
        public string Unit => "B";
        public bool TheGreaterTheBetter => false;
        public int PriorityInCategory => 0;
        public bool GetIsAvailable(Metric metric) => true;
    }
}
