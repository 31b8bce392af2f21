namespace PioFvlm.Core.IO.Loading;

/// <summary>A strict load found problems; the message lists every one of them (not just the first).</summary>
public sealed class StateLoadException(string checkpoint, StateLoadReport report)
    : Exception($"{checkpoint}: checkpoint does not match the module; nothing was loaded.{Environment.NewLine}{report.Describe()}")
{
    public StateLoadReport Report { get; } = report;
}
