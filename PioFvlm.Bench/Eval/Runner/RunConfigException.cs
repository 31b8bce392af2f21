namespace PioFvlm.Bench.Eval.Runner;

/// <summary>An evaluation config that cannot be used; the message starts with the key path at fault (e.g. <c>Run:Model:DType</c>).</summary>
public sealed class RunConfigException(string message, Exception? inner = null) : Exception(message, inner);
