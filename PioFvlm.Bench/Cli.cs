namespace PioFvlm.Bench;

/// <summary>The pio-fvlm command line: one verb per subcommand.</summary>
public static class Cli
{
    public static int Run(string[] args)
    {
        Console.Error.WriteLine("usage: pio-fvlm <inspect> ...");
        return 2;
    }
}
