namespace PioFvlm.Bench.Eval.Runner;

/// <summary>
/// Progress with ETA on stderr: redrawn in place on a terminal (at most every 200 ms), plain lines when stderr is
/// redirected (at most one every 5 s, and the last).
/// </summary>
public sealed class EvalProgress(long total, TextWriter? writer = null)
{
    readonly TextWriter _w = writer ?? Console.Error;
    readonly bool _interactive = writer is null && !Console.IsErrorRedirected;
    readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    double _last = double.NegativeInfinity;

    /// <param name="runningScore">The method's running match rate so far (answer/label field), when known.</param>
    public void Report(long done, string method, double? runningScore = null)
    {
        double now = _clock.Elapsed.TotalMilliseconds;
        if (now - _last < (_interactive ? 200 : 5000) && done < total) return;
        _last = now;
        double rate = done / Math.Max(1e-9, now / 1000);
        string eta = rate > 0 && done < total ? $", ETA {TimeSpan.FromSeconds(Math.Round((total - done) / rate)):g}" : "";
        string score = runningScore is double r ? $", running match {100 * r:F1}%" : "";
        string line = $"eval {method}: {done}/{total} ({100.0 * done / Math.Max(1, total):F0}%, {rate:F2}/s{eta}{score})";
        if (_interactive) _w.Write($"\r{line}   ");
        else _w.WriteLine(line);
    }

    public void Done()
    {
        if (_interactive) _w.WriteLine();
    }
}
