using System.Diagnostics;

namespace PioFvlm.Tests.TestSupport;

/// <summary>Runs an external program to completion and captures what it prints (packaging and scheduler tests).</summary>
static class ProcessRun
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
    {
        public string Describe(string what) => $"{what} exited {ExitCode}\n--- stdout ---\n{Tail(Stdout)}\n--- stderr ---\n{Tail(Stderr)}";
        static string Tail(string s) => s.Length > 4000 ? "..." + s[^4000..] : s;
    }

    public static Result Run(string program, IEnumerable<string> args, string workingDirectory, TimeSpan timeout,
                             IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory, UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        if (environment != null) foreach (var (k, v) in environment) start.Environment[k] = v;
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"{program} {string.Join(' ', start.ArgumentList)} did not finish within {timeout.TotalSeconds:F0} s\n{stdout.Result}\n{stderr.Result}");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result, clock.Elapsed);
    }
}
