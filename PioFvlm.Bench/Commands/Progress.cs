namespace PioFvlm.Bench.Commands;

/// <summary>A one-line progress counter on stderr, redrawn at most every 200 ms; silent when stderr is redirected.</summary>
public sealed class Progress(string label, long total)
{
    readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    double _lastDrawMs = double.NegativeInfinity;
    readonly bool _interactive = !Console.IsErrorRedirected;

    public void Report(long done)
    {
        if (!_interactive) return;
        double now = _clock.Elapsed.TotalMilliseconds;
        if (now - _lastDrawMs < 200 && done < total) return;
        _lastDrawMs = now;
        double rate = done / Math.Max(1e-9, now / 1000);
        string eta = rate > 0 && done < total ? $", ~{(total - done) / rate:F0} s left" : "";
        Console.Error.Write($"\r{label}: {done}/{total} ({100.0 * done / Math.Max(1, total):F0}%{eta})   ");
    }

    public void Done()
    {
        if (_interactive) Console.Error.WriteLine();
    }
}
