return PioFvlm.Bench.Cli.Run(args);
