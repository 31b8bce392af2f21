namespace PioFvlm.Bench.Commands;

/// <summary>Plain progress lines: the first, then at most one every 5 s, and the last (done = total).</summary>
public sealed class PlainProgress(string label, long total, TextWriter writer) : ProgressReporter
{
    readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    double _lastMs = double.NegativeInfinity;

    public override void Report(long done, string? stage = null, double? runningScore = null)
    {
        double now = _clock.Elapsed.TotalMilliseconds;
        if (now - _lastMs < 5000 && done < total) return;
        _lastMs = now;
        writer.WriteLine(Describe(label, stage, done, total, _clock.Elapsed, runningScore));
    }

    public override void Log(string line) => Console.Out.WriteLine(line);

    public override void Dispose() => writer.Flush();
}
