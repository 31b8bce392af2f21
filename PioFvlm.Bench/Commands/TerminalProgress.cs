using Spectre.Console;

namespace PioFvlm.Bench.Commands;

/// <summary>
/// A Spectre.Console progress bar: description (done/total, rate, running score), bar, percentage, ETA, elapsed.
/// Spectre's display runs its own refresh loop inside a callback; it runs on a background task that waits until
/// <see cref="Dispose"/>, so the caller's loop stays an ordinary loop.
/// </summary>
public sealed class TerminalProgress : ProgressReporter
{
    readonly IAnsiConsole _console;
    readonly string _label;
    readonly long _total;
    readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly Task _display;
    ProgressTask? _task;

    public TerminalProgress(string label, long total, IAnsiConsole console)
    {
        _console = console;
        _label = label;
        _total = total;
        using var ready = new ManualResetEventSlim();
        _display = Task.Run(() => console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                     new RemainingTimeColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                _task = ctx.AddTask(Markup.Escape(Describe(label, null, 0, total, TimeSpan.Zero, null, withEta: false)), maxValue: Math.Max(1, total));
                ready.Set();
                await _finished.Task;
                ctx.Refresh();
            }));
        // the display's first frame, or its failure (then Dispose rethrows it)
        WaitHandle.WaitAny([ready.WaitHandle, ((IAsyncResult)_display).AsyncWaitHandle]);
    }

    public override void Report(long done, string? stage = null, double? runningScore = null)
    {
        if (_task is not { } task) return;
        task.Description = Markup.Escape(Describe(_label, stage, done, _total, _clock.Elapsed, runningScore, withEta: false));
        task.Value = done;
    }

    public override void Log(string line)
    {
        if (Console.IsOutputRedirected) Console.Out.WriteLine(line);   // stdout is a file or pipe: it gets the line, as always
        else _console.WriteLine(line);                               // same terminal: through the live display
    }

    public override void Dispose()
    {
        _finished.TrySetResult();
        _display.GetAwaiter().GetResult();
    }
}
