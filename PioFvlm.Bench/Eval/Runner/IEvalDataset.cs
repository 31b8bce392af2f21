namespace PioFvlm.Bench.Eval.Runner;

/// <summary>Questions of one benchmark, in file order (the runner shards and limits by that order).</summary>
public interface IEvalDataset
{
    IReadOnlyList<EvalSample> Load(string questionFile, string? imageFolder);
}
