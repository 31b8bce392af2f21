namespace PioFvlm.Tests.CommandLine;

/// <summary>Runs the pio-fvlm command line in-process and captures what it prints.</summary>
static class CliRunner
{
    static readonly object ConsoleGate = new();

    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        lock (ConsoleGate)
        {
            var (oldOut, oldErr) = (Console.Out, Console.Error);
            var (stdout, stderr) = (new StringWriter(), new StringWriter());
            Console.SetOut(stdout);
            Console.SetError(stderr);
            try
            {
                int rc = PioFvlm.Bench.Cli.Run(args);
                return (rc, stdout.ToString(), stderr.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
            }
        }
    }
}
