using Spectre.Console;

namespace PioFvlm.Bench.Commands;

/// <summary>
/// Progress of long work (eval, demo, inspect --verify, the 7B measurement) on stderr, one abstraction for every
/// verb: a Spectre.Console bar on a terminal (<see cref="TerminalProgress"/>), plain lines when stderr is redirected or
/// a writer is given (<see cref="PlainProgress"/>: log files and job logs stay readable). Both show done/total, the
/// rate, the ETA and, when the caller knows one, a running score. Dispose ends the display.
/// </summary>
public abstract class ProgressReporter : IDisposable
{
    /// <param name="label">What is counted ("eval", "verify", ...).</param>
    /// <param name="total">Units of work in all.</param>
    /// <param name="plainWriter">Write plain lines here (tests, logs); null: stderr, as a bar when it is a terminal.</param>
    /// <param name="quietWhenRedirected">No lines at all when stderr is redirected (for output that is itself the result).</param>
    public static ProgressReporter Start(string label, long total, TextWriter? plainWriter = null, bool quietWhenRedirected = false)
    {
        if (plainWriter != null) return new PlainProgress(label, total, plainWriter);
        if (!Console.IsErrorRedirected)
            return new TerminalProgress(label, total, AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }));
        return new PlainProgress(label, total, quietWhenRedirected ? TextWriter.Null : Console.Error);
    }

    /// <summary>Records <paramref name="done"/> units finished.</summary>
    /// <param name="stage">What is being worked on now (a method, a schedule); shown after the label.</param>
    /// <param name="runningScore">A fraction in [0, 1] shown as "running match", when known.</param>
    public abstract void Report(long done, string? stage = null, double? runningScore = null);

    /// <summary>A result line printed while the progress shows (stdout as usual; on a terminal, above the bar so the
    /// two do not garble each other).</summary>
    public abstract void Log(string line);

    public abstract void Dispose();

    /// <summary>"eval KeepAll: 3/8 (38%, 0.45/s, ETA 0:00:11, running match 66.7%)": the text both renderers show.</summary>
    public static string Describe(string label, string? stage, long done, long total, TimeSpan elapsed, double? runningScore, bool withEta = true)
    {
        double rate = done / Math.Max(1e-9, elapsed.TotalSeconds);
        string eta = withEta && rate > 0 && done < total ? $", ETA {TimeSpan.FromSeconds(Math.Round((total - done) / rate)):g}" : "";
        string score = runningScore is double r ? $", running match {100 * r:F1}%" : "";
        string head = stage is null ? label : $"{label} {stage}";
        return $"{head}: {done}/{total} ({100.0 * done / Math.Max(1, total):F0}%, {rate:F2}/s{eta}{score})";
    }
}
